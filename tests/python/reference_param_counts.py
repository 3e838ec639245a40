#!/usr/bin/env python3
"""Parameter counts of the paper's reference networks (kvgarimella/sisyphus-ppml
models/*.py, rebuilt here layer by layer with torch.nn) and of torchvision's
ResNet-50. tests/nn/test_networks.cpp asserts our C++ networks match these.

Run: /opt/sisyphus/venv/bin/python3 tests/python/reference_param_counts.py (launch/env.sh);
ctest runs check_param_counts.py, which compares these with the C++ table.
"""
import torch.nn as nn
import torchvision


def count(m):
    return sum(p.numel() for p in m.parameters())


def conv_bn(i, o, k, s=1, p=None, bias=True, groups=1):
    p = k // 2 if p is None else p
    return [nn.Conv2d(i, o, k, s, p, bias=bias, groups=groups), nn.BatchNorm2d(o)]


def mlp(c, size, classes):
    return nn.Sequential(nn.Linear(c * size * size, 256), nn.BatchNorm1d(256), nn.Linear(256, classes))


def lenet(c, size, classes):
    side = ((size - 4) // 2 - 4) // 2
    return nn.Sequential(*conv_bn(c, 6, 5, p=0), *conv_bn(6, 16, 5, p=0),
                         nn.Linear(16 * side * side, 120), nn.BatchNorm1d(120),
                         nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Linear(84, classes))


def alexnet(c, classes):
    return nn.Sequential(*conv_bn(c, 64, 3, 2), *conv_bn(64, 192, 3), *conv_bn(192, 384, 3),
                         *conv_bn(384, 256, 3), *conv_bn(256, 256, 3),
                         nn.Linear(1024, 4096), nn.BatchNorm1d(4096),
                         nn.Linear(4096, 4096), nn.BatchNorm1d(4096), nn.Linear(4096, classes))


def vgg(c, plan, classes):
    layers, i = [], c
    for o in plan:
        layers += conv_bn(i, o, 3)
        i = o
    return nn.Sequential(*layers, nn.Linear(512, classes))


def mobilenet(c, classes):
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + \
             [(1024, 2), (1024, 1)]
    layers, i = conv_bn(c, 32, 3, bias=False), 32
    for o, s in blocks:
        layers += conv_bn(i, i, 3, s, bias=False, groups=i) + conv_bn(i, o, 1, bias=False)
        i = o
    return nn.Sequential(*layers, nn.Linear(1024, classes))


def resnet_cifar(blocks, widths, classes, option_a=False):
    """option_a: the reference ResNet-32's parameter-free shortcut (subsample + zero-pad)."""
    layers, i = conv_bn(3, widths[0], 3, bias=False), widths[0]
    for li, (n, w) in enumerate(zip(blocks, widths)):
        for b in range(n):
            s = 2 if (b == 0 and li > 0) else 1
            layers += conv_bn(i, w, 3, s, bias=False) + conv_bn(w, w, 3, bias=False)
            if (s != 1 or i != w) and not option_a:
                layers += conv_bn(i, w, 1, s, p=0, bias=False)
            i = w
    return nn.Sequential(*layers, nn.Linear(i, classes))


def resnet50(classes, stem):
    m = torchvision.models.resnet50(num_classes=classes)
    if stem == "tiny":
        m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    return m


VGG11 = [64, 128, 256, 256, 512, 512, 512, 512]
VGG16 = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]


def rows():
    """Reference parameter counts by key: (our network, channels, image size, classes) and count."""
    return {
        ("mlp", 1, 28, 10): count(mlp(1, 28, 10)),
        ("lenet", 1, 28, 10): count(lenet(1, 28, 10)),
        ("lenet", 3, 32, 10): count(lenet(3, 32, 10)),
        ("alexnet", 3, 32, 10): count(alexnet(3, 10)),
        ("vgg11", 3, 32, 10): count(vgg(3, VGG11, 10)),
        ("vgg16", 3, 32, 10): count(vgg(3, VGG16, 10)),
        ("mobilenet", 3, 32, 10): count(mobilenet(3, 10)),
        ("resnet18", 3, 32, 10): count(resnet_cifar([2, 2, 2, 2], [64, 128, 256, 512], 10)),
        ("resnet20", 3, 32, 10): count(resnet_cifar([3, 3, 3], [16, 32, 64], 10)),
        ("resnet32", 3, 32, 10): count(resnet_cifar([5, 5, 5], [16, 32, 64], 10, option_a=True)),
        ("resnet50", 3, 64, 200): count(resnet50(200, "tiny")),
    }


if __name__ == "__main__":
    for k, v in rows().items():
        print(*k, v)
