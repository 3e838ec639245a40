#include "commands/cost_command.h"

#include <torch/torch.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "engine/run_setup.h"
#include "model/saved_network.h"
#include "nn/act_spec.h"
#include "nn/amm.h"
#include "settings/settings.h"

namespace sisyphus::train {
namespace {

std::vector<int> parse_degrees(const std::string& text) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? comma : comma - pos);
    errno = 0;
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    SISYPHUS_CHECK(!item.empty() && end == item.c_str() + item.size() && errno == 0 && v >= 1 &&
                       v <= 255 && v % 2 == 1,
                   ErrorKind::kConfig,
                   "bad value for --sign-degrees: '" + text +
                       "' (odd degrees between 1 and 255, comma-separated, e.g. 15,15,27)");
    out.push_back(static_cast<int>(v));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::string row(const std::string& point, const std::string& name, const std::string& kind,
                int64_t elements, const nn::OpCount& c, const std::string& note) {
  char buf[256];
  const std::string count = elements > 0 ? std::to_string(elements) : "-";  // totals: "-"
  std::snprintf(buf, sizeof(buf), "%-18s %-26s %-10s %10s %6lld %12lld %14lld  %s", point.c_str(),
                name.c_str(), kind.c_str(), count.c_str(), static_cast<long long>(c.depth),
                static_cast<long long>(c.ct_ct), static_cast<long long>(c.pt_ct), note.c_str());
  return buf;
}

void write_csv(const std::string& path, const nn::CostReport& r) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  SISYPHUS_CHECK(f != nullptr, ErrorKind::kIo, "cannot write --csv file '" + path + "'");
  std::fprintf(f, "point,layer,kind,elements,depth,ct_ct,pt_ct,shortcut\n");
  for (const auto& l : r.layers)
    std::fprintf(f, "%s,%s,%s,%lld,%lld,%lld,%lld,%d\n", l.point.c_str(), l.name.c_str(),
                 l.kind.c_str(), static_cast<long long>(l.elements),
                 static_cast<long long>(l.cost.depth), static_cast<long long>(l.cost.ct_ct),
                 static_cast<long long>(l.cost.pt_ct), l.shortcut ? 1 : 0);
  for (const auto& [name, c] : {std::pair{"total", r.total}, std::pair{"with-relu", r.with_relu}})
    std::fprintf(f, "-,%s,total,0,%lld,%lld,%lld,0\n", name, static_cast<long long>(c.depth),
                 static_cast<long long>(c.ct_ct), static_cast<long long>(c.pt_ct));
  SISYPHUS_CHECK(std::fclose(f) == 0, ErrorKind::kIo, "cannot write --csv file '" + path + "'");
}

}  // namespace

nn::CostReport cost_checkpoint(const CostConfig& cfg) {
  check_settings(cost_settings(), cfg);
  const std::vector<int> degrees = parse_degrees(cfg.sign_degrees);
  const nn::AmmMode mode = nn::parse_amm_mode(cfg.amm_mode);
  SavedNetwork saved = load_saved_network(cfg.checkpoint);
  nn::set_amm_mode(*saved.net, mode);
  nn::CostReport r = nn::he_cost(*saved.net, probe_input(*saved.spec), degrees);

  const io::CheckpointMeta& m = saved.ckpt.meta;
  std::printf("cost: %s (%s on %s, stage %s, %s, activation %s)\n", cfg.checkpoint.c_str(),
              m.network.c_str(), m.dataset.c_str(), m.stage.c_str(),
              m.folded ? "folded" : "not folded", r.activation.c_str());
  std::printf(
      "rules: docs/beyond.md; ReLU as x(1+sign x)/2, sign by odd composites of degrees %s\n",
      cfg.sign_degrees.c_str());
  std::printf("%-18s %-26s %-10s %10s %6s %12s %14s\n", "point", "layer", "kind", "elements",
              "levels", "ct-ct mults", "pt-ct mults");
  if (cfg.layers)
    for (const auto& l : r.layers)
      std::printf("%s\n", row(l.point, l.name, l.kind, l.elements, l.cost,
                              l.shortcut ? "(shortcut: off the critical path)" : "")
                              .c_str());
  std::printf("%s\n", row("total", "this network", "", 0, r.total, "").c_str());
  std::printf("%s\n", row("total", "ReLU composite in every slot", "", 0, r.with_relu, "").c_str());
  std::fflush(stdout);
  if (!cfg.csv.empty()) write_csv(cfg.csv, r);
  return r;
}

}  // namespace sisyphus::train
