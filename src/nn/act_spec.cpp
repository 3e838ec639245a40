#include "nn/act_spec.h"

#include <torch/torch.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>

#include "core/error.h"
#include "nn/channel_poly.h"
#include "nn/herpn.h"
#include "nn/polynomial.h"
#include "nn/relu_fit.h"

namespace sisyphus::nn {
namespace {

constexpr const char* kForms =
    "relu, quad, taylor, poly:degree=D,range=A, poly:coeffs=c0,c1,..., herpn, "
    "cpoly:degree=D[,range=A], each optionally prefixed by amm+";

[[noreturn]] void bad_spec(const std::string& spec, const std::string& why) {
  SISYPHUS_FAIL(ErrorKind::kConfig,
                "bad activation '" + spec + "': " + why + " (forms: " + kForms + ")");
}

double parse_number(const std::string& spec, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(v))
    bad_spec(spec, "'" + text + "' is not a finite number");
  return v;
}

// "degree=2,range=5" -> {degree: [2], range: [5]}; "coeffs=1,2,3" -> {coeffs: [1, 2, 3]}:
// a comma-separated item without '=' continues the previous key's list.
std::map<std::string, std::vector<double>> parse_args(const std::string& spec,
                                                      const std::string& args) {
  std::map<std::string, std::vector<double>> out;
  std::string key;
  size_t pos = 0;
  while (pos <= args.size()) {
    size_t comma = args.find(',', pos);
    std::string item =
        args.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t eq = item.find('=');
    if (eq != std::string::npos) {
      key = item.substr(0, eq);
      if (out.count(key)) bad_spec(spec, "'" + key + "' is given twice");
      out[key].push_back(parse_number(spec, item.substr(eq + 1)));
    } else {
      if (key.empty()) bad_spec(spec, "expected key=value after ':'");
      out[key].push_back(parse_number(spec, item));
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

int integer_degree(const std::string& spec, const std::vector<double>& v) {
  if (v.size() != 1) bad_spec(spec, "degree takes one value");
  if (v[0] != std::floor(v[0]) || v[0] < 1 || v[0] > 16)
    bad_spec(spec, "degree must be an integer between 1 and 16");
  return static_cast<int>(v[0]);
}

// cpoly:degree=D[,range=A]
std::shared_ptr<Activation> make_channel_poly(const std::string& spec, const std::string& args_text,
                                              int64_t channels) {
  auto args = parse_args(spec, args_text);
  for (const auto& [k, v] : args)
    if (k != "degree" && k != "range") bad_spec(spec, "unknown key '" + k + "'");
  if (!args.count("degree")) bad_spec(spec, "cpoly needs degree=");
  std::optional<double> range;
  if (args.count("range")) {
    if (args["range"].size() != 1 || args["range"][0] <= 0)
      bad_spec(spec, "range takes one positive value");
    range = args["range"][0];
  }
  return std::make_shared<ChannelPolynomial>(channels, integer_degree(spec, args["degree"]), range);
}

std::shared_ptr<Activation> make_plain(const std::string& spec, const std::string& body,
                                       int64_t channels) {
  if (body == "relu") return std::make_shared<Relu>();
  if (body == "quad") return std::make_shared<Quad>();
  if (body == "herpn") return std::make_shared<HerPN>(channels);
  if (body.rfind("cpoly:", 0) == 0) return make_channel_poly(spec, body.substr(6), channels);
  if (body == "taylor") return std::make_shared<Polynomial>(taylor_relu(), "taylor");
  if (body.rfind("poly:", 0) != 0) bad_spec(spec, "unknown activation '" + body + "'");
  auto args = parse_args(spec, body.substr(5));
  if (args.count("coeffs")) {
    if (args.size() != 1) bad_spec(spec, "coeffs= cannot be combined with other keys");
    return std::make_shared<Polynomial>(args["coeffs"]);
  }
  for (const auto& [k, v] : args)
    if (k != "degree" && k != "range") bad_spec(spec, "unknown key '" + k + "'");
  if (!args.count("degree") || !args.count("range"))
    bad_spec(spec, "a fit needs degree= and range=");
  if (args["degree"].size() != 1 || args["range"].size() != 1)
    bad_spec(spec, "degree and range take one value");
  const double d = args["degree"][0];
  if (d != std::floor(d)) bad_spec(spec, "degree must be an integer");
  return std::make_shared<Polynomial>(
      fit_relu_least_squares(static_cast<int>(d), args["range"][0]));
}

}  // namespace

std::shared_ptr<Activation> make_activation(const std::string& spec, int64_t channels) {
  const std::string prefix = "amm+";
  if (spec.rfind(prefix, 0) == 0) {
    std::shared_ptr<Activation> inner = make_plain(spec, spec.substr(prefix.size()), channels);
    return std::make_shared<AmmActivation>(channels, std::move(inner));
  }
  return make_plain(spec, spec, channels);
}

void check_activation_spec(const std::string& spec) { make_activation(spec, 1); }

void set_activations(NetworkImpl& net, const std::string& spec, const torch::Tensor& probe) {
  check_activation_spec(spec);
  std::vector<torch::Tensor> outs;
  {
    torch::NoGradGuard no_grad;
    const bool was_training = net.is_training();
    net.eval();
    outs = net.forward_points(probe);
    net.train(was_training);
  }
  const auto& points = net.points();
  for (size_t l = 0; l < points.size(); ++l) {
    if (points[l].slot.is_empty()) continue;
    std::shared_ptr<Activation> fn = make_activation(spec, outs[l].size(1));
    fn->to(probe.device());
    ActivationSlot slot = points[l].slot;  // a handle to the network's slot
    slot->set(fn);
  }
}

std::string activation_spec(const NetworkImpl& net) {
  for (const auto& p : net.points())
    if (!p.slot.is_empty()) return p.slot->get()->describe();
  return "relu";
}

void set_amm_mode(torch::nn::Module& module, AmmMode mode) {
  for (auto& m : module.modules())
    if (auto* amm = m->as<AmmImpl>()) amm->set_mode(mode);
}

bool has_amm(torch::nn::Module& module) {
  for (auto& m : module.modules())
    if (m->as<AmmImpl>()) return true;
  return false;
}

bool has_amm_statistics(torch::nn::Module& module, AmmMode mode) {
  for (auto& m : module.modules())
    if (auto* amm = m->as<AmmImpl>(); amm && !amm->has_statistics(mode)) return false;
  return true;
}

}  // namespace sisyphus::nn
