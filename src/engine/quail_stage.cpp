#include "engine/quail_stage.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"

namespace sisyphus::train {

Stage baseline_stage(int64_t epochs) { return {"baseline", StageKind::kBaseline, 0, epochs}; }

std::vector<Stage> plan_stages(size_t num_points, int64_t mimic_epochs, int64_t finetune_epochs) {
  std::vector<Stage> stages;
  auto name = [](const char* kind, size_t l) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%s-%02zu", kind, l);
    return std::string(buf);
  };
  if (mimic_epochs > 0)
    for (size_t l = 0; l < num_points; ++l)
      stages.push_back({name("mimic", l), StageKind::kMimic, l, mimic_epochs});
  if (finetune_epochs > 0)
    for (size_t l = num_points; l-- > 0;)
      stages.push_back({name("finetune", l), StageKind::kFineTune, l, finetune_epochs});
  return stages;
}

std::vector<Stage> plan_replacement(Method method, const std::vector<size_t>& slotted,
                                    int64_t epochs) {
  std::vector<Stage> stages;
  if (method == Method::kBlend) return {{"blend", StageKind::kBlend, 0, epochs}};
  SISYPHUS_CHECK(method == Method::kProgressive, ErrorKind::kConfig,
                 "plan_replacement: --method imitate plans with plan_stages");
  for (size_t l : slotted) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "replace-%02zu", l);
    stages.push_back({buf, StageKind::kReplace, l, epochs});
  }
  return stages;
}

double blend_weight(int64_t done, int64_t total) {
  if (total <= 0) return 1.0;
  return std::min(1.0, 2.0 * static_cast<double>(done) / static_cast<double>(total));
}

std::vector<bool> stage_trainable(const Stage& stage, size_t num_points) {
  std::vector<bool> t(num_points, false);
  for (size_t l = 0; l < num_points; ++l) {
    switch (stage.kind) {
      case StageKind::kMimic:
        t[l] = l == stage.point;
        break;
      case StageKind::kFineTune:
        t[l] = l >= stage.point;
        break;
      default:  // the baseline and replacement: the whole network trains
        t[l] = true;
    }
  }
  return t;
}

bool evaluation_due(Evaluation policy, const std::vector<Stage>& stages, size_t s, int64_t epoch) {
  const bool stage_end = epoch + 1 == stages.at(s).epochs;
  if (policy == Evaluation::kEpochs) return true;
  if (policy == Evaluation::kStages || !stage_end) return stage_end;
  const bool last_stage = s + 1 == stages.size();
  const bool last_mimic = stages[s].mimic() && (last_stage || !stages[s + 1].mimic());
  return last_stage || last_mimic;
}

}  // namespace sisyphus::train
