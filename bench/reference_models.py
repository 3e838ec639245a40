"""The paper's LeNet (BN) and ResNet-20 in Python PyTorch, with the same
module structure and state_dict names as sisyphus's C++ networks, so the
benchmarks compare the same model and sisyphus checkpoints load here; and
the QuaIL student written from the paper's description (AMM -> Quad in
every activation slot, QuaIL's points and their owners), used by the
agreement test (tests/python/quail_agreement.py) and the whole-run
benchmark (bench/reference_pipeline.py)."""
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
    def __init__(self, cin, cout, stride, option_a=False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act2 = nn.ReLU()
        self.downsample = None
        self.pad = None  # option A (the ResNet paper's CIFAR shortcut): subsample, zero channels
        if (stride != 1 or cin != cout) and option_a:
            self.pad = (stride, (cout - cin) // 2, cout - cin - (cout - cin) // 2)
        elif stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        if self.pad is not None:
            s, before, after = self.pad
            identity = nn.functional.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, before, after))
        else:
            identity = x if self.downsample is None else self.downsample(x)
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + identity
        return self.act2(out)


class ResNetCifar(nn.Module):
    def __init__(self, blocks, widths, num_classes=10, in_channels=3, option_a=False):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.act = nn.ReLU()
        cin = widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths)):
            layer = []
            for b in range(n):
                layer.append(BasicBlock(cin, w, 2 if (b == 0 and i > 0) else 1, option_a))
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


def resnet32(num_classes=10, in_channels=3):
    """src/nn/resnet.cpp's ResNet-32: option A shortcuts, no projection parameters."""
    return ResNetCifar([5, 5, 5], [16, 32, 64], num_classes, in_channels, option_a=True)


def build(name, in_channels, image_size, num_classes):
    if name == "lenet":
        return lenet(in_channels, image_size, num_classes)
    if name == "resnet20":
        return resnet20(num_classes, in_channels)
    if name == "resnet32":
        return resnet32(num_classes, in_channels)
    raise SystemExit(f"reference_models: no Python definition of {name}")


class Amm(nn.Module):
    def __init__(self, c):
        super().__init__()
        for name in ("running_min", "running_max", "extreme_min", "extreme_max"):
            self.register_buffer(name, torch.zeros(c))
        self.register_buffer("biggest_min", torch.ones(c))
        self.register_buffer("biggest_range", torch.ones(c))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.int64))

    def forward(self, x):
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        if not self.training:
            lo, hi = self.running_min, self.running_max
        else:
            lo, hi = x.amin(dims), x.amax(dims)
            with torch.no_grad():
                first = int(self.num_batches_tracked) == 0
                for run, b in ((self.running_min, lo), (self.running_max, hi)):
                    run.copy_(b if first else 0.9 * run + 0.1 * b)
                self.extreme_min.copy_(lo if first else torch.minimum(self.extreme_min, lo))
                self.extreme_max.copy_(hi if first else torch.maximum(self.extreme_max, hi))
                self.biggest_min.copy_(torch.minimum(self.biggest_min, lo))
                self.biggest_range.copy_(torch.maximum(self.biggest_range, hi - lo))
                self.num_batches_tracked += 1
        return 2 * (x - lo.view(shape)) / (hi - lo).clamp_min(1e-5).view(shape) - 1


class AmmQuad(nn.Module):  # state names <slot>.fn.amm.<buffer>, as sisyphus
    def __init__(self, c):
        super().__init__()
        self.fn = nn.Module()
        self.fn.amm = Amm(c)

    def forward(self, x):
        y = self.fn.amm(x)
        return y * y


def points(net_name, model):
    """QuaIL's points in forward order: (name, owner module paths)."""
    if net_name == "lenet":
        return [("features.2", ["features.0", "features.1"]), ("features.6", ["features.4", "features.5"]),
                ("classifier.3", ["classifier.1", "classifier.2"]), ("classifier.6", ["classifier.4", "classifier.5"]),
                ("classifier.7", ["classifier.7"])]
    pts = [("act", ["conv1", "bn1"])]
    for i in range(model.num_layers):
        for b in range(len(getattr(model, f"layer{i + 1}"))):
            p = f"layer{i + 1}.{b}"
            pts.append((f"{p}.act1", [f"{p}.conv1", f"{p}.bn1"]))
            pts.append((f"{p}.act2", [f"{p}.conv2", f"{p}.bn2", f"{p}.downsample"]))
    return pts + [("fc", ["fc"])]


def slot_channels(m, in_channels, image_size):
    """Each ReLU's (activation slot's) channel count, from one forward pass."""
    m.eval()
    with torch.no_grad():
        channels = {}
        hooks = [mod.register_forward_hook(lambda mod, i, o, n=n: channels.__setitem__(n, o.shape[1]))
                 for n, mod in m.named_modules() if isinstance(mod, nn.ReLU)]
        m(torch.zeros(1, in_channels, image_size, image_size))
        for h in hooks:
            h.remove()
    return channels


def student(net_name, in_channels=1, image_size=28, num_classes=10):
    """The ReLU architecture with AMM -> Quad in every activation slot."""
    m = build(net_name, in_channels, image_size, num_classes)
    for name, c in slot_channels(m, in_channels, image_size).items():
        parent, _, leaf = name.rpartition(".")
        setattr(m.get_submodule(parent) if parent else m, leaf, AmmQuad(c))
    return m


def outputs_at(model, net_name, x):
    """Every point's output, in order (forward hooks on the slots, then the logits)."""
    outs = {}
    names = [p for p, _ in points(net_name, model)]
    hooks = [model.get_submodule(n).register_forward_hook(lambda mod, i, o, n=n: outs.__setitem__(n, o))
             for n in names[:-1]]
    logits = model(x)
    for h in hooks:
        h.remove()
    return [outs[n] for n in names[:-1]] + [logits]


class ChannelPoly(nn.Module):
    """A folded slot (`sisyphus fold`): one polynomial per channel, coefficients
    [C, degree + 1] lowest degree first, state name <slot>.fn.coeffs."""

    def __init__(self, c, degree):
        super().__init__()
        self.fn = nn.Module()
        self.fn.coeffs = nn.Parameter(torch.zeros(c, degree + 1))

    def forward(self, x):
        shape = [1, -1] + [1] * (x.dim() - 2)
        c = self.fn.coeffs
        y = c[:, -1].view(shape).expand_as(x)
        for d in range(c.shape[1] - 2, -1, -1):
            y = y * x + c[:, d].view(shape)
        return y


def folded(net_name, degree, in_channels=1, image_size=28, num_classes=10):
    """The deployable form `sisyphus fold` writes, written from its description:
    an identity where each BN was, a bias on every conv/linear layer, and
    each ReLU a polynomial per channel (ChannelPoly)."""
    m = build(net_name, in_channels, image_size, num_classes)
    channels = slot_channels(m, in_channels, image_size)

    def replace(name, new):
        parent, _, leaf = name.rpartition(".")
        owner = m.get_submodule(parent) if parent else m
        if isinstance(owner, nn.Sequential):
            owner[int(leaf)] = new
        else:
            setattr(owner, leaf, new)

    for name, mod in list(m.named_modules()):
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            replace(name, nn.Identity())
        elif isinstance(mod, nn.Conv2d) and mod.bias is None:
            replace(name, nn.Conv2d(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride,
                                    mod.padding, groups=mod.groups, bias=True))
    for name, c in channels.items():
        replace(name, ChannelPoly(c, degree))
    return m
