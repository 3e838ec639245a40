"""The paper's LeNet (BN) and ResNet-20 in Python PyTorch, with the same
module structure and state_dict names as sisyphus's C++ networks, so the
benchmarks compare the same model and sisyphus checkpoints load here."""
import torch
import torch.nn as nn


def lenet(in_channels=1, image_size=28, num_classes=10):
    side = ((image_size - 4) // 2 - 4) // 2
    m = nn.Module()
    m.features = nn.Sequential(
        nn.Conv2d(in_channels, 6, 5), nn.BatchNorm2d(6), nn.ReLU(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.AvgPool2d(2, 2))
    m.classifier = nn.Sequential(
        nn.Flatten(), nn.Linear(16 * side * side, 120), nn.BatchNorm1d(120), nn.ReLU(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.ReLU(), nn.Linear(84, num_classes))
    m.forward = lambda x: m.classifier(m.features(x))
    return m


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act2 = nn.ReLU()
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + identity
        return self.act2(out)


class ResNetCifar(nn.Module):
    def __init__(self, blocks, widths, num_classes=10, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.act = nn.ReLU()
        cin = widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths)):
            layer = []
            for b in range(n):
                layer.append(BasicBlock(cin, w, 2 if (b == 0 and i > 0) else 1))
                cin = w
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
        self.num_layers = len(blocks)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.act(self.bn1(self.conv1(x)))
        for i in range(self.num_layers):
            x = getattr(self, f"layer{i + 1}")(x)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def resnet20(num_classes=10, in_channels=3):
    return ResNetCifar([3, 3, 3], [16, 32, 64], num_classes, in_channels)


def build(name, in_channels, image_size, num_classes):
    if name == "lenet":
        return lenet(in_channels, image_size, num_classes)
    if name == "resnet20":
        return resnet20(num_classes, in_channels)
    raise SystemExit(f"reference_models: no Python definition of {name}")
