#!/usr/bin/env python3
"""A PyTorch reference of einfo's Elastic-InfoGAN training step, written from the spec in
docs/method.md, for speed comparisons on the same machine (CPU or CUDA).

One step = sample z and a Gumbel-Softmax code from the learnable prior; D step on
{trunk, D}; G step on {G, Q, prior logits}: non-saturating GAN loss + info loss
+ 10 * KL(Q(c|x) || Q(c|x')) + 0.1 * mean entropy of Q(c|x), Q(c|x') on real images, with
x' = a random rotation (±20°) and zoom (0.9-1.1) of x; two Adams (2e-4, betas 0.5/0.999).
Real images are random tensors of the right shape (speed does not depend on the pixels).

  python3 torch_step.py [--device cpu|cuda] [--threads 2] [--batch 64] [--steps 30]
  python3 torch_step.py --layers      # forward + backward of each heavy layer alone

Prints `RESULT torch <version> device=<d> threads=<t> batch=<b> steps=<n> median_step_s=<s>
imgs_per_s=<r>` (or one `LAYER <name> fwd_ms=… bwd_ms=…` line per layer).
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

NZ, K = 62, 10


def normal_init(module):
    """Weights N(0, 0.02²), biases 0 (docs/method.md, "Networks")."""
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(NZ + K, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
            nn.Linear(1024, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z, c):
        return self.up(self.fc(torch.cat([z, c], 1)).view(-1, 128, 7, 7))


class Trunk(nn.Module):
    """The feature extractor D and Q share; trained by the discriminator loss only."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(128 * 7 * 7, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2))

    def forward(self, x):
        return self.net(x)


class QHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(1024, 128), nn.BatchNorm1d(128), nn.LeakyReLU(0.2))
        self.out = nn.Linear(128, K)

    def forward(self, h):
        return self.out(self.hidden(h))


def transform(x):
    """x' = δ(x): rotation by a whole number of degrees in [-20, 20] and a zoom in [0.9, 1.1]."""
    b = x.shape[0]
    angle = torch.randint(-20, 21, (b,), device=x.device).float() * math.pi / 180
    zoom = torch.empty(b, device=x.device).uniform_(0.9, 1.1)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros_like(cos)], 1),
                         torch.stack([sin, cos, torch.zeros_like(cos)], 1)], 1)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def mean_entropy(logits):
    lp = F.log_softmax(logits, 1)
    return -(lp.exp() * lp).sum(1).mean()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_step_fn(device, batch, lambda_trans, lambda_ent):
    g, fe, q = Generator().to(device), Trunk().to(device), QHead().to(device)
    d = nn.Linear(1024, 1).to(device)
    for m in (g, fe, q, d):
        m.apply(normal_init)
    theta = torch.zeros(K, device=device, requires_grad=True)
    opt_d = torch.optim.Adam(list(fe.parameters()) + list(d.parameters()), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(list(g.parameters()) + list(q.parameters()) + [theta], lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones = torch.ones(batch, 1, device=device)
    zeros = torch.zeros(batch, 1, device=device)
    x = torch.rand(batch, 1, 28, 28, device=device) * 2 - 1

    def step():
        z = torch.randn(batch, NZ, device=device)
        u = torch.rand(batch, K, device=device).clamp(1e-10, 1 - 1e-7)
        c = F.softmax((F.log_softmax(theta, 0) - torch.log(-torch.log(u))) / 0.1, 1)
        fake = g(z, c)
        # D step.
        opt_d.zero_grad(set_to_none=True)
        d_loss = bce(d(fe(x)), ones) + bce(d(fe(fake.detach())), zeros)
        d_loss.backward()
        opt_d.step()
        # G step (gradients reach the trunk and D but only opt_g steps).
        opt_g.zero_grad(set_to_none=True)
        h = fe(fake)
        loss = bce(d(h), ones) + F.cross_entropy(q(h), c.argmax(1))
        with torch.no_grad():
            hx, hxt = fe(x), fe(transform(x))
        lx, lxt = q(hx), q(hxt)
        kl = (F.softmax(lx, 1) * (F.log_softmax(lx, 1) - F.log_softmax(lxt, 1))).sum(1).mean()
        loss = loss + lambda_trans * kl + lambda_ent * 0.5 * (mean_entropy(lx) + mean_entropy(lxt))
        loss.backward()
        opt_g.step()
        fe.zero_grad(set_to_none=True)
        d.zero_grad(set_to_none=True)

    return step


def time_layers(args, device):
    b = args.batch
    layers = [
        ("G linear 1024->6272", nn.Linear(1024, 6272), (b, 1024)),
        ("G convT 128->64 7->14", nn.ConvTranspose2d(128, 64, 4, 2, 1), (b, 128, 7, 7)),
        ("G convT 64->1 14->28", nn.ConvTranspose2d(64, 1, 4, 2, 1), (b, 64, 14, 14)),
        ("FE conv 1->64 28->14", nn.Conv2d(1, 64, 4, 2, 1), (b, 1, 28, 28)),
        ("FE conv 64->128 14->7", nn.Conv2d(64, 128, 4, 2, 1), (b, 64, 14, 14)),
        ("FE linear 6272->1024", nn.Linear(6272, 1024), (b, 6272)),
    ]
    for name, layer, shape in layers:
        layer = layer.to(device)
        x = torch.randn(*shape, device=device, requires_grad=True)
        fwd, bwd = [], []
        for i in range(args.warmup + args.steps):
            sync(device)
            t0 = time.perf_counter()
            y = layer(x)
            sync(device)
            t1 = time.perf_counter()
            y.backward(torch.ones_like(y))
            sync(device)
            t2 = time.perf_counter()
            if i >= args.warmup:
                fwd.append(t1 - t0)
                bwd.append(t2 - t1)
            x.grad = None
            layer.zero_grad(set_to_none=True)
        print(f"LAYER {name:<24} fwd_ms={statistics.median(fwd) * 1e3:8.2f} bwd_ms={statistics.median(bwd) * 1e3:8.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (ignored on CUDA)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--lambda-trans", type=float, default=10.0)
    ap.add_argument("--lambda-ent", type=float, default=0.1)
    ap.add_argument("--layers", action="store_true", help="time each heavy layer (forward + backward) instead")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    if args.layers:
        time_layers(args, device)
        return
    step = train_step_fn(device, args.batch, args.lambda_trans, args.lambda_ent)
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        sync(device)
        t0 = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    threads = args.threads if device.type == "cpu" else 0
    print(f"RESULT torch {torch.__version__} device={device.type} threads={threads} batch={args.batch} "
          f"steps={args.steps} median_step_s={med:.4f} imgs_per_s={args.batch / med:.1f}")


if __name__ == "__main__":
    main()
