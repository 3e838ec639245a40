#include "nn/registry.h"

#include <torch/torch.h>

#include "core/error.h"
#include "nn/resnet.h"

namespace sisyphus::nn {

std::vector<std::string> network_names() {
  return {"mlp",      "lenet",    "alexnet",  "vgg11",     "vgg16",
          "resnet18", "resnet20", "resnet32", "mobilenet", "resnet50"};
}

Network make_network(const std::string& name, const NetShape& shape, bool imagenet_stem) {
  SISYPHUS_CHECK(shape.in_channels > 0 && shape.image_size > 0 && shape.num_classes > 1,
                 ErrorKind::kConfig, "invalid network shape");
  if (!shape.batchnorm && name.rfind("resnet", 0) == 0) {
    SISYPHUS_FAIL(ErrorKind::kConfig, "--no-batchnorm applies to the plain stacks, not to " + name);
  }
  Network net;
  if (name == "mlp")
    net = make_mlp(shape);
  else if (name == "lenet")
    net = make_lenet(shape);
  else if (name == "alexnet")
    net = make_alexnet(shape);
  else if (name == "vgg11")
    net = make_vgg(shape, 11);
  else if (name == "vgg16")
    net = make_vgg(shape, 16);
  else if (name == "mobilenet")
    net = make_mobilenet_v1(shape);
  else if (name.rfind("resnet", 0) == 0 &&
           (name == "resnet18" || name == "resnet20" || name == "resnet32" || name == "resnet50"))
    net = make_resnet(name, shape, imagenet_stem ? ResNetStem::kImageNet : ResNetStem::kCifar);
  else {
    std::string known;
    for (const auto& n : network_names()) known += (known.empty() ? "" : ", ") + n;
    SISYPHUS_FAIL(ErrorKind::kConfig, "unknown network '" + name + "' (known: " + known + ")");
  }
  // One tiny forward pass proves the geometry works (e.g. enough pixels left
  // for every pooling) before any training starts.
  {
    torch::NoGradGuard no_grad;
    net->eval();
    try {
      net->forward(torch::zeros({2, shape.in_channels, shape.image_size, shape.image_size}));
    } catch (const c10::Error& e) {
      std::string msg = e.what_without_backtrace();
      SISYPHUS_FAIL(ErrorKind::kModel, "network '" + name + "' cannot take " +
                                           std::to_string(shape.in_channels) + "x" +
                                           std::to_string(shape.image_size) + "x" +
                                           std::to_string(shape.image_size) +
                                           " inputs: " + msg.substr(0, msg.find('\n')));
    }
    net->train();
  }
  return net;
}

}  // namespace sisyphus::nn
