"""Reference DETR set criterion for tests/unit/test_detr_loss.c, written from the DETR paper's definitions
(HungarianMatcher + SetCriterion of facebookresearch/detr, reduced to labels/boxes/giou):
  matching cost  C = w_class·(−softmax(logits)[label]) + w_L1·‖b − b̂‖₁ + w_GIoU·(−GIoU(xyxy b, xyxy b̂)),
                 weights 1, 5, 2, solved per image with scipy's linear_sum_assignment, no gradient;
  losses         cross-entropy over every query (unmatched -> no-object class C) with class weights
                 (1, ..., 1, eos_coef = 0.1), weighted mean;  L1 and 1 − GIoU over matched pairs, summed and
                 divided by num_boxes = max(total targets, 1);  total = 1·ce + 5·L1 + 2·GIoU per layer,
                 summed over the final and every auxiliary layer.
Inputs per case: 0 logits [B, Q, C+1], 1 boxes [B, Q, 4] (cxcywh in (0, 1)), 2 target boxes [N, 4],
3 labels [N] i64, 4 box_image [N] i64, then optionally 5 aux logits [L, B, Q, C+1], 6 aux boxes [L, B, Q, 4].
Cases ending in _parts output [ce, l1, giou] per layer (final first) instead of the total."""
import os

import torch
import torch.nn.functional as F

from golden import Golden, SkipGenerator, randn, uniform

W_CLASS, W_BBOX, W_GIOU, EOS = 1.0, 5.0, 2.0, 0.1


def cxcywh_to_xyxy(b):
    cx, cy, w, h = b.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def box_area(b):
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def generalized_box_iou(a, b):
    area1, area2 = box_area(a), box_area(b)
    lt = torch.max(a[:, None, :2], b[:, :2])
    rb = torch.min(a[:, None, 2:], b[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = area1[:, None] + area2 - inter
    iou = inter / union
    lt = torch.min(a[:, None, :2], b[:, :2])
    rb = torch.max(a[:, None, 2:], b[:, 2:])
    wh = (rb - lt).clamp(min=0)
    area = wh[:, :, 0] * wh[:, :, 1]
    return iou - (area - union) / area


def per_image(tboxes, labels, image, B):
    return [{"boxes": tboxes[image == b], "labels": labels[image == b]} for b in range(B)]


@torch.no_grad()
def match(logits, boxes, targets, lsa):
    out = []
    for b, t in enumerate(targets):
        prob = logits[b].softmax(-1)
        c = (W_BBOX * torch.cdist(boxes[b], t["boxes"], p=1) - W_CLASS * prob[:, t["labels"]]
             - W_GIOU * generalized_box_iou(cxcywh_to_xyxy(boxes[b]), cxcywh_to_xyxy(t["boxes"])))
        i, j = lsa(c.numpy())
        out.append((torch.as_tensor(i, dtype=torch.int64), torch.as_tensor(j, dtype=torch.int64)))
    return out


def layer_losses(logits, boxes, targets, num_boxes, lsa):
    B, Q, C1 = logits.shape
    idx = match(logits, boxes, targets, lsa)
    batch_idx = torch.cat([torch.full_like(s, i) for i, (s, _) in enumerate(idx)])
    src_idx = torch.cat([s for s, _ in idx])
    tc = torch.full((B, Q), C1 - 1, dtype=torch.int64)
    tc[batch_idx, src_idx] = torch.cat([t["labels"][j] for t, (_, j) in zip(targets, idx)])
    w = torch.ones(C1)
    w[-1] = EOS
    ce = F.cross_entropy(logits.transpose(1, 2), tc, w)
    src = boxes[batch_idx, src_idx]
    tgt = torch.cat([t["boxes"][j] for t, (_, j) in zip(targets, idx)])
    l1 = F.l1_loss(src, tgt, reduction="none").sum() / num_boxes
    giou = (1 - torch.diag(generalized_box_iou(cxcywh_to_xyxy(src), cxcywh_to_xyxy(tgt)))).sum() / num_boxes
    return ce, l1, giou


def criterion(lsa, parts):
    def fn(logits, boxes, tboxes, labels, image, aux_logits=None, aux_boxes=None):
        B = logits.shape[0]
        targets = per_image(tboxes, labels, image, B)
        num_boxes = max(float(labels.numel()), 1.0)
        layers = [(logits, boxes)] + ([] if aux_logits is None else list(zip(aux_logits.unbind(0), aux_boxes.unbind(0))))
        ls = [layer_losses(lg, bx, targets, num_boxes, lsa) for lg, bx in layers]
        if parts:
            return torch.stack([x for l in ls for x in l])
        return sum(W_CLASS * ce + W_BBOX * l1 + W_GIOU * g for ce, l1, g in ls)
    return fn


def targets(counts, C, seed, shuffle=True):
    n = sum(counts)
    cxcy = uniform(n, 2, lo=0.2, hi=0.8, seed=seed)
    wh = uniform(n, 2, lo=0.05, hi=0.45, seed=seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    labels = torch.randint(0, C, (n,), generator=g)
    image = torch.cat([torch.full((k,), b, dtype=torch.int64) for b, k in enumerate(counts)])
    if shuffle:  # the batch format does not promise boxes grouped by image
        image = image[torch.randperm(n, generator=g)]
    return torch.cat([cxcy, wh], 1), labels, image


def preds(shape_prefix, C1, seed):
    return randn(*shape_prefix, C1, seed=seed, scale=2.0), torch.sigmoid(randn(*shape_prefix, 4, seed=seed + 1))


def generate(out):
    try:
        from scipy.optimize import linear_sum_assignment as lsa
    except ImportError as e:
        raise SkipGenerator(f"scipy not importable ({e}); apt-get install python3-scipy") from e
    g = Golden()
    B, Q, C = 3, 6, 4
    lg, bx = preds((B, Q), C + 1, seed=1)
    t = targets([3, 0, 5], C, seed=3)  # image 1 has no targets
    alg, abx = preds((2, B, Q), C + 1, seed=10)
    g.case("final", criterion(lsa, False), [lg, bx, *t], grad_inputs=[0, 1], seed=1)
    g.case("aux", criterion(lsa, False), [lg, bx, *t, alg, abx], grad_inputs=[0, 1, 5, 6], seed=2)
    g.case("aux_parts", criterion(lsa, True), [lg, bx, *t, alg, abx], grad_inputs=[0, 1, 5, 6], seed=3)
    # fewer queries than targets in image 0: only Q of its boxes are matched (the transposed assignment)
    lg2, bx2 = preds((2, 3), C + 1, seed=20)
    g.case("crowded_parts", criterion(lsa, True), [lg2, bx2, *targets([5, 2], C, seed=22)], grad_inputs=[0, 1], seed=4)
    # no targets in the whole batch: only the no-object cross-entropy; num_boxes clamps to 1
    e = (torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64))
    g.case("empty_parts", criterion(lsa, True), [lg, bx, *e], grad_inputs=[0, 1], seed=5)
    g.save(os.path.join(out, "detr_loss.safetensors"))
