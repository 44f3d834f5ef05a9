import torch

from ned.manipulator.nets import NetConfig, build_nets, count_params


def test_reference_sizes():
    nets = build_nets(NetConfig())
    # reference: G about 13M parameters (51 dims), D and E about 1M
    assert 11e6 < count_params(nets.G) < 14e6
    assert 0.8e6 < count_params(nets.D) < 1.2e6
    assert 0.8e6 < count_params(nets.E) < 1.2e6
    assert len(nets.M.heads) == 7


def test_shapes_and_flame_dim():
    for e in (52, 51):
        cfg = NetConfig(exp_dim=e, g_hidden=32, g_decoder=64, d_hidden=16)
        n = build_nets(cfg)
        x = torch.rand(3, 10, e)
        y = torch.tensor([0, 4, 6])
        s = n.M(torch.randn(3, 4), y)
        assert s.shape == (3, 16)
        assert n.G(x, s).shape == (3, 10, e)
        assert n.E(x).shape == (3, 16)
        assert n.D(x, y).shape == (3,)


def test_mapping_heads_differ_and_residual():
    cfg = NetConfig(g_hidden=16, g_decoder=16, d_hidden=8, residual=True)
    n = build_nets(cfg)
    z = torch.randn(1, 4).repeat(7, 1)
    s = n.M(z, torch.arange(7))
    assert torch.cdist(s, s)[~torch.eye(7, dtype=bool)].min() > 0
    with torch.no_grad():
        for p in n.G.decode[-1].parameters():
            p.zero_()
    x = torch.rand(2, 10, 52)
    assert torch.equal(n.G(x, s[:2]), x)  # residual G with a zero decoder is the identity
