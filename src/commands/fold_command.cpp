#include "commands/fold_command.h"

#include <torch/torch.h>

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "engine/run_setup.h"
#include "io/checkpoint.h"
#include "model/saved_network.h"
#include "nn/act_spec.h"
#include "nn/amm.h"
#include "nn/fold.h"
#include "settings/settings.h"

namespace sisyphus::train {

namespace {

// A folded network trained further as it is deployed (`train --init`): its
// deployable form is its weights, without the training state (momentum, the
// data order's position) that its last checkpoint carries.
FoldReport refold(const FoldConfig& cfg, const SavedNetwork& saved) {
  io::Checkpoint out;
  out.meta = saved.ckpt.meta;
  out.meta.stage = "folded";
  out.meta.teacher = cfg.checkpoint;
  out.model = saved.ckpt.model;
  io::save_checkpoint(cfg.out, out);
  FoldReport r;
  r.activation = out.meta.activation;
  for (const auto& p : saved.net->points()) r.slots += p.slot.is_empty() ? 0 : 1;
  r.parameters = saved.net->parameter_count();
  log::info("fold: " + cfg.checkpoint + " is folded already -> " + cfg.out +
            ": its weights without its training state, " + std::to_string(r.parameters) +
            " parameters");
  return r;
}

}  // namespace

FoldReport fold_checkpoint(const FoldConfig& cfg) {
  check_settings(fold_settings(), cfg);
  SISYPHUS_CHECK(!cfg.out.empty(), ErrorKind::kConfig, "fold needs --out FILE");
  std::error_code ec1, ec2;
  SISYPHUS_CHECK(std::filesystem::weakly_canonical(cfg.out, ec1) !=
                     std::filesystem::weakly_canonical(cfg.checkpoint, ec2),
                 ErrorKind::kConfig,
                 "--out must not be the input checkpoint '" + cfg.checkpoint + "'");
  const nn::AmmMode mode = nn::parse_amm_mode(cfg.amm_mode);
  SavedNetwork saved = load_saved_network(cfg.checkpoint);
  if (saved.ckpt.meta.folded) return refold(cfg, saved);
  nn::set_amm_mode(*saved.net, mode);
  if (nn::has_amm(*saved.net))
    SISYPHUS_CHECK(nn::has_amm_statistics(*saved.net, mode), ErrorKind::kCheckpoint,
                   "--amm-mode " + cfg.amm_mode + ": '" + cfg.checkpoint +
                       "' predates AMM's biggest statistics");
  const io::CheckpointMeta& m = saved.ckpt.meta;
  nn::Network folded = nn::fold_network(*saved.net, shape_of(*saved.spec, m.batchnorm),
                                        m.imagenet_stem, probe_input(*saved.spec));

  io::Checkpoint out;
  out.meta = m;
  out.meta.folded = true;
  out.meta.stage = "folded";
  out.meta.activation = nn::activation_spec(*folded);
  out.meta.teacher = cfg.checkpoint;  // where it came from (its config stays the training's)
  out.model = io::module_state(*folded);
  io::save_checkpoint(cfg.out, out);

  FoldReport r;
  r.activation = out.meta.activation;
  r.norms = static_cast<int64_t>(saved.net->norm_pairs().size());
  for (const auto& p : saved.net->points()) r.slots += p.slot.is_empty() ? 0 : 1;
  r.parameters = folded->parameter_count();
  log::info("fold: " + cfg.checkpoint + " -> " + cfg.out + ": " + std::to_string(r.norms) +
            " BN layers folded into their conv/linear layers, " + std::to_string(r.slots) +
            " activations as " + r.activation +
            (nn::has_amm(*saved.net) ? " (AMM statistics: " + cfg.amm_mode + ")" : "") + ", " +
            std::to_string(r.parameters) + " parameters");
  return r;
}

}  // namespace sisyphus::train
