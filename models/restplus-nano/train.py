"""Train restplus-nano: a tiny Qwen2-VL that reads and solves two-operand sums from restplus renders.

    .venv/bin/python models/restplus-nano/train.py --out models/restplus-nano          # ~45 min, 2 cores
    .venv/bin/python models/restplus-nano/train.py --out /tmp/nano --steps 20          # smoke run

Everything comes from restplus itself, so training inputs are exactly what ``evaluate`` sends:
problems from :func:`restplus.problems.sums.make_sum`, variants from :func:`restplus.realize` on a
training grid, requests from :func:`restplus.runner.prompts.build_requests` with the default
prompts, chat messages from the HF adapter's ``messages_for`` and inputs from the saved processor.

Held out (never seen in training), so the REST+ analysis shows real out-of-distribution effects:
the Kalam font, yellow and gold text, DPI below 80 (the grid's 50), and every problem of
``builtin_set("sums", n=200, seed=s)`` for s in 0..4 (the demo and bench problems).

Deterministic from ``--seed``: sample i is built from ``derive_seed(seed, "nano-sample", i)``
(problem, cell, task) and the model is initialised and trained on one fixed schedule of
``--steps`` steps, so the same seed and step count give the same weights on the same torch build
and thread count. Training is never run in CI; the committed weights are loaded instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TRAIN_FONTS = ("DejaVu Sans", "Liberation Mono")
TRAIN_COLOURS = ("black", "red", "green", "blue", "purple", "brown", "darkcyan", "dimgray")
TRAIN_DPI = (80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200, 210, 220)
TRAIN_SIZES = (10, 11, 12, 13, 14)
HELD_OUT_SEEDS = range(5)
HELD_OUT_N = 200
# Task mix per sample: transcription of image / mixed renders, and solving in each modality.
TASKS = (("ocr", "image", 0.25), ("ocr", "mixed", 0.10), ("solve", "text", 0.25),
         ("solve", "image", 0.25), ("solve", "mixed", 0.15))
MAX_PIXELS = 28 * 28 * 128  # vision-token budget: a 6-inch 200 DPI line is scaled by ~0.7 (128 tokens)
MIN_PIXELS = 28 * 28 * 4
SLOT_CLASSES = (10, 10, 2, 10, 10)  # tens and ones of a, the operator, tens and ones of b
from restplus.testing.tiny import QWEN_SPECIALS as SPECIALS  # noqa: E402  (after HF_HUB_OFFLINE is set)
from restplus.testing.tiny import QWEN_TEMPLATE as CHAT_TEMPLATE  # noqa: E402

MODEL = dict(hidden=128, layers=4, heads=4, kv_heads=2, intermediate=384,
             vision_embed=64, vision_depth=4, vision_heads=2, rope_theta=10000.0, mrope=None)


SCRATCHPAD = False  # --scratchpad: column arithmetic, ones first, instead of "a op b = result"


def solve_target(problem) -> str:
    """The reply the model learns: the expression it read, the result, and the Answer line.

    With SCRATCHPAD the result is worked out column by column, ones first (a small model cannot
    produce the leading digit of a sum before it has the carry): ``47 + 38`` gives
    ``47 + 38 / 7 + 8 = 15 / 4 + 3 + 1 = 8 / Answer: 85`` (one step per line).
    """
    expr = problem.segments[0].text
    if not SCRATCHPAD:
        return f"{expr} = {problem.answer}\nAnswer: {problem.answer}"
    a, op, b = expr.split()
    (a1, a0), (b1, b0) = divmod(int(a), 10), divmod(int(b), 10)
    if op == "+":
        ones = f"{a0} + {b0} = {a0 + b0}"
        carry = (a0 + b0) // 10
        tens = f"{a1} + {b1} + {carry} = {a1 + b1 + carry}"
    else:
        carry = int(a0 < b0)
        ones = f"{a0 + 10 * carry} - {b0} = {a0 + 10 * carry - b0}"
        tens = f"{a1} - {carry} - {b1} = {a1 - carry - b1}"
    return f"{expr}\n{ones}\n{tens}\nAnswer: {problem.answer}"


def held_out() -> set[tuple[int, str, int]]:
    import restplus as rp

    out: set[tuple[int, str, int]] = set()
    for s in HELD_OUT_SEEDS:
        for p in rp.builtin_set("sums", n=HELD_OUT_N, seed=s):
            a, op, b = p.segments[0].text.split()
            out.add((int(a), op, int(b)))
    return out


def training_grid():
    import restplus as rp

    return rp.Grid(rp.font(list(TRAIN_FONTS)), rp.dpi(list(TRAIN_DPI)), rp.font_size(list(TRAIN_SIZES)),
                   rp.text_color(list(TRAIN_COLOURS)), rp.modality(["text", "image", "mixed"]),
                   name="nano_train")


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from restplus.problems import sums
    from restplus.runner.prompts import PromptSet

    ps = PromptSet()
    corpus = [ps.ocr_text("sums")] + [ps.solve_text(m, "sums", "number") for m in ("text", "image", "mixed")]
    rng = random.Random(0)
    for _ in range(400):
        a, op, b = sums.draw(rng)
        p = sums.make_sum(a, op, b)
        corpus.append(p.full_text + "\n" + solve_target(p))
    tok = Tokenizer(models.BPE())
    # Digits stay single tokens so that numbers are spelled digit by digit (arithmetic generalises).
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus * 20, trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def build_processor(tok):
    from transformers import Qwen2VLImageProcessorPil, Qwen2VLProcessor

    from restplus.models._hf_load import image_only_processor_class

    # White maps to 0 (not CLIP's +1.9): blank patches embed to zero, so the few patches with ink are
    # what the tower sees, instead of a small change on top of a large constant background vector.
    ip = Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS, image_mean=[1.0, 1.0, 1.0],
                                  image_std=[0.5, 0.5, 0.5])
    return image_only_processor_class(Qwen2VLProcessor)(image_processor=ip, tokenizer=tok, chat_template=CHAT_TEMPLATE)


def build_model(tok, seed: int):
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIALS}
    m = MODEL
    head_dim = m["hidden"] // m["heads"]
    # mrope_section (temporal, height, width) sums to head_dim / 2, by default in Qwen2-VL's 2:3:3 proportion.
    mrope = m["mrope"] or [head_dim // 8, 3 * head_dim // 16, 3 * head_dim // 16]
    cfg = Qwen2VLConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=m["hidden"], intermediate_size=m["intermediate"],
                         num_hidden_layers=m["layers"], num_attention_heads=m["heads"],
                         num_key_value_heads=m["kv_heads"], max_position_embeddings=4096,
                         rope_parameters={"rope_type": "default", "rope_theta": float(m["rope_theta"]),
                                          "mrope_section": list(mrope)},
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                         pad_token_id=ids["<|endoftext|>"], tie_word_embeddings=True),
        vision_config=dict(depth=m["vision_depth"], embed_dim=m["vision_embed"], hidden_size=m["hidden"],
                           num_heads=m["vision_heads"], mlp_ratio=2, patch_size=14, spatial_merge_size=2,
                           temporal_patch_size=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2VLForConditionalGeneration(cfg)
    return model


class Samples:
    """Sample i of the training stream: (problem, cell, task) from its own derived seed."""

    def __init__(self, seed: int, processor) -> None:
        import restplus as rp
        from restplus.runner.prompts import PromptSet, build_requests, decoding_for

        self.seed, self.processor = seed, processor
        self.grid = training_grid()
        self.cells = {m: [c for c in self.grid.cells() if c.modality == m] for m in ("text", "image", "mixed")}
        self.excluded = held_out()
        self.prompts, self.decoding = PromptSet(), decoding_for("sums")
        self._rp, self._build = rp, build_requests

    def __len__(self) -> int:
        return 1 << 40

    def item(self, i: int):
        """(messages, images, target) of sample i."""
        from restplus.grammar.grid import variant_seed
        from restplus.hashing import derive_seed
        from restplus.models._hf_load import messages_for
        from restplus.problems import sums

        rng = random.Random(derive_seed(self.seed, "nano-sample", i))
        while True:
            abc = sums.draw(rng)
            if abc not in self.excluded:
                break
        problem = sums.make_sum(*abc)
        kind, modality = rng.choices([(k, m) for k, m, _ in TASKS], weights=[w for _, _, w in TASKS])[0]
        cell = rng.choice(self.cells[modality])
        v = self._rp.realize(problem, self.grid, cell, variant_seed(self.seed, problem.problem_id, cell))
        req = self._build(v, self.prompts, self.decoding)[kind]
        target = v.images[0].rendered_text if kind == "ocr" else solve_target(problem)
        return messages_for(req), [p.to_pil() for p in req.images], target, f"{kind}-{modality}", abc

    def encode(self, i: int):
        import torch

        from restplus.problems.sums import OPERATORS

        msgs, images, target, task, (a, op, b) = self.item(i)
        proc = self.processor
        prompt = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        kw = {"images": images} if images else {}
        enc = proc(text=[prompt], return_tensors="pt", **kw)
        tgt = proc.tokenizer(target + "<|im_end|>", add_special_tokens=False, return_tensors="pt")["input_ids"][0]
        ids = torch.cat([enc["input_ids"][0], tgt])
        labels = torch.cat([torch.full_like(enc["input_ids"][0], -100), tgt])
        mm = enc.get("mm_token_type_ids")
        mm = torch.cat([mm[0], torch.zeros_like(tgt)]) if mm is not None else torch.zeros_like(ids)
        slots = torch.tensor([a // 10, a % 10, OPERATORS.index(op), b // 10, b % 10]) if images else None
        return {"input_ids": ids, "labels": labels, "mm_token_type_ids": mm, "task": task, "slots": slots,
                "pixel_values": enc.get("pixel_values"), "image_grid_thw": enc.get("image_grid_thw")}


class _Stream:
    """Map-style dataset over sample indices for a DataLoader worker (the model never waits on renders)."""

    def __init__(self, seed: int, out: str) -> None:
        self.seed, self.out, self.samples = seed, out, None

    def __len__(self) -> int:
        return 1 << 40

    def __getitem__(self, i: int):
        if self.samples is None:
            from transformers import AutoProcessor  # noqa: F401  (import cost paid once per worker)

            self.samples = Samples(self.seed, load_processor(self.out))
        return self.samples.encode(i)


def load_processor(out: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out)
    return build_processor(tok)


def collate(batch):
    import torch

    pad = 0  # <|endoftext|>, the pad token (first special token); padded positions are masked
    n = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), n), pad, dtype=torch.long)
    labels = torch.full((len(batch), n), -100, dtype=torch.long)
    mm = torch.zeros((len(batch), n), dtype=torch.long)
    attn = torch.zeros((len(batch), n), dtype=torch.long)
    for r, b in enumerate(batch):
        k = len(b["input_ids"])
        ids[r, :k], labels[r, :k], mm[r, :k], attn[r, :k] = b["input_ids"], b["labels"], b["mm_token_type_ids"], 1
    out = {"input_ids": ids, "labels": labels, "mm_token_type_ids": mm, "attention_mask": attn,
           "tasks": [b["task"] for b in batch]}
    pv = [b["pixel_values"] for b in batch if b["pixel_values"] is not None]
    if pv:
        out["pixel_values"] = torch.cat(pv)
        out["image_grid_thw"] = torch.cat([b["image_grid_thw"] for b in batch if b["image_grid_thw"] is not None])
        out["slots"] = torch.stack([b["slots"] for b in batch if b["slots"] is not None])
    return out


def slot_loss_sum(logits, slots):
    """Cross-entropy summed over the five slots; ``logits`` holds the slots' classes side by side."""
    import torch

    parts = torch.split(logits, list(SLOT_CLASSES), dim=-1)
    return sum(torch.nn.functional.cross_entropy(p, slots[:, j]) for j, p in enumerate(parts))


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    frac = (step - warmup) / max(steps - warmup, 1)
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def train(out: str, steps: int, batch: int, seed: int, lr: float, log_every: int, stop_at: int | None = None,
          save_every: int = 0, vision_lr_mult: float = 0.5, aux_weight: float = 2.0,
          lm_aux_weight: float = 1.0, warmup: int | None = 50) -> dict:
    import torch
    from torch.utils.data import DataLoader

    # oneDNN's Conv3d backward (the patch embedding) intermittently returns NaN weight gradients on
    # this CPU build (reproduced on a 384-patch image); the native kernel is exact and deterministic.
    torch.backends.mkldnn.enabled = False
    torch.manual_seed(seed)
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer()
    proc = build_processor(tok)
    proc.save_pretrained(outp)
    _fix_processor_class(outp)
    model = build_model(tok, seed)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params {n_params / 1e6:.2f} M, vocab {len(tok)}", flush=True)
    stream = _Stream(seed, out)
    last = steps if stop_at is None else min(stop_at, steps)
    sampler = [list(range(s * batch, (s + 1) * batch)) for s in range(last)]
    loader = DataLoader(stream, batch_sampler=sampler, collate_fn=collate, num_workers=1, prefetch_factor=4,
                        persistent_workers=False)
    # Parameter groups: (vision tower or not) x (decayed matrices or not); the tower may get a larger
    # step, because the language side learns the text prior long before the tower learns to read.
    groups = []
    for visual in (True, False):
        for decayed in (True, False):
            ps = [p for n, p in model.named_parameters() if ("visual" in n) == visual and (p.ndim >= 2) == decayed]
            groups.append({"params": ps, "weight_decay": 0.01 if decayed else 0.0,
                           "lr_mult": vision_lr_mult if visual else 1.0})
    # Auxiliary slot heads (training only, never saved): from the pooled merged vision tokens of each
    # image they predict the five slots of the sum (tens and ones of each operand, the operator), and
    # a third head does the same from the language model's state where the reply starts. Without
    # them nothing learns to read: the language model starts with near-uniform attention, so it sees
    # the average of ~100 mostly blank image tokens, and the reply loss stayed at the guessing floor
    # (0.75 nats/token on image transcriptions) for 1500 steps whatever the learning rates or RoPE base.
    merged: list = []
    hook = model.model.visual.merger.register_forward_hook(lambda _m, _i, o: merged.append(o))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 1)
        slot_head = torch.nn.Linear(model.config.text_config.hidden_size, sum(SLOT_CLASSES))
        mean_head = torch.nn.Linear(model.config.text_config.hidden_size, sum(SLOT_CLASSES))
        lm_head_aux = torch.nn.Linear(model.config.text_config.hidden_size, sum(SLOT_CLASSES))
    aux_params = list(slot_head.parameters()) + list(mean_head.parameters())
    if aux_weight:
        groups.append({"params": list(aux_params), "weight_decay": 0.0, "lr_mult": vision_lr_mult})
    if lm_aux_weight:
        groups.append({"params": list(lm_head_aux.parameters()), "weight_decay": 0.0, "lr_mult": 1.0})
        aux_params += list(lm_head_aux.parameters())
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98))
    warmup = min(300, steps // 10 + 1) if warmup is None else warmup
    model.train()
    curve: list[dict] = []
    t0 = time.perf_counter()
    run: dict[str, list[float]] = {}
    for step, b in enumerate(loader):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, warmup) * g["lr_mult"]
        tasks, slots = b.pop("tasks"), b.pop("slots", None)
        merged.clear()
        outputs = model(**{k: v for k, v in b.items() if k != "labels"}, output_hidden_states=bool(lm_aux_weight))
        logits = outputs.logits
        # Per-sample losses so the log shows each task's curve (same mean as the HF loss).
        lg, lb = logits[:, :-1].float(), b["labels"][:, 1:]
        tok_loss = torch.nn.functional.cross_entropy(lg.reshape(-1, lg.shape[-1]), lb.reshape(-1),
                                                     ignore_index=-100, reduction="none").view(lb.shape)
        mask = (lb != -100).float()
        loss = (tok_loss * mask).sum() / mask.sum()
        if aux_weight and slots is not None:
            sizes = (b["image_grid_thw"].prod(-1) // 4).tolist()
            # Two poolings. Max teaches the tower to detect the glyphs: a mean over mostly blank tokens
            # drowns the few that hold ink, so on its own it gives no signal. Mean then makes the
            # average of the image tokens carry the sum, which is what the language model's
            # near-uniform attention reads at the start, so its own loss has a gradient to follow.
            per_image = torch.split(merged[0], sizes)
            aux = 0.0
            for head, pool in ((slot_head, lambda t: t.max(0).values), (mean_head, lambda t: t.mean(0))):
                aux = aux + slot_loss_sum(head(torch.stack([pool(t) for t in per_image])), slots) / 10
            loss = loss + aux_weight * aux
            run.setdefault("aux", []).append(float(aux))
        if lm_aux_weight and slots is not None:
            # The language model's own state where the reply starts must hold the sum it was shown:
            # a direct signal to attend to the image tokens (its reply loss alone says so only weakly).
            rows = (b["input_ids"] == model.config.image_token_id).any(1).nonzero().squeeze(1)
            start = (b["labels"][rows] != -100).float().argmax(1) - 1
            state = outputs.hidden_states[-1][rows, start]
            lm_aux = slot_loss_sum(lm_head_aux(state), slots) / len(SLOT_CLASSES)
            loss = loss + lm_aux_weight * lm_aux
            run.setdefault("lm_aux", []).append(float(lm_aux))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()) + aux_params, 1.0)
        opt.step()
        per = ((tok_loss * mask).sum(1) / mask.sum(1).clamp(min=1)).tolist()
        for t, v in zip(tasks, per, strict=True):
            run.setdefault(t, []).append(v)
        if save_every and (step + 1) % save_every == 0:  # a loadable folder: weights + processor files
            ckpt = outp / f"checkpoint-{step + 1}"
            model.save_pretrained(ckpt)
            proc.save_pretrained(ckpt)
            _fix_processor_class(ckpt)
        if (step + 1) % log_every == 0 or step + 1 == last:
            row = {"step": step + 1, "seconds": round(time.perf_counter() - t0, 1),
                   "lr": round(opt.param_groups[-1]["lr"], 6),
                   **{f"loss_{t}": round(sum(v) / len(v), 4) for t, v in sorted(run.items())}}
            curve.append(row)
            run = {}
            print(json.dumps(row), flush=True)
    seconds = time.perf_counter() - t0
    hook.remove()
    model.eval()
    model.generation_config.do_sample = False
    model.generation_config.repetition_penalty = 1.0
    model.save_pretrained(outp)
    info = {"seed": seed, "steps": steps, "stopped_at": last, "batch": batch, "lr": lr,
            "vision_lr_mult": vision_lr_mult, "aux_weight": aux_weight, "lm_aux_weight": lm_aux_weight, "warmup": warmup,
            "scratchpad": SCRATCHPAD, "params": n_params, "train_seconds": round(seconds, 1),
            "torch_threads": torch.get_num_threads(), "model": MODEL, "max_pixels": MAX_PIXELS,
            "train_fonts": TRAIN_FONTS, "train_colours": TRAIN_COLOURS, "train_dpi": TRAIN_DPI,
            "train_font_sizes": TRAIN_SIZES, "tasks": [list(t) for t in TASKS],
            "held_out": {"fonts": ["Kalam"], "colours": ["yellow", "gold"], "dpi": "below 80",
                         "problems": f"builtin_set('sums', n={HELD_OUT_N}, seed=s) for s in 0..{max(HELD_OUT_SEEDS)}"},
            "curve": curve}
    (outp / "training.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def _fix_processor_class(out: Path) -> None:
    # The folder names the upstream processor, so any transformers user loads it as a Qwen2-VL checkpoint.
    for name in ("processor_config.json", "tokenizer_config.json", "preprocessor_config.json"):
        f = out / name
        if f.exists():
            data = json.loads(f.read_text())
            if "processor_class" in data:
                data["processor_class"] = "Qwen2VLProcessor"
                f.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent))
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--stop-at", type=int, default=None,
                    help="stop after this many steps of the --steps schedule (same weights as a longer run at that step)")
    ap.add_argument("--save-every", type=int, default=0, help="also save checkpoint-N folders every N steps")
    ap.add_argument("--vision-lr-mult", type=float, default=0.5, help="learning-rate multiplier of the vision tower")
    ap.add_argument("--aux-weight", type=float, default=2.0, help="weight of the auxiliary slot loss (0: off)")
    ap.add_argument("--warmup", type=int, default=50, help="warm-up steps")
    ap.add_argument("--lm-aux-weight", type=float, default=1.0,
                    help="weight of the slot loss on the language model's state where the reply starts")
    ap.add_argument("--scratchpad", action="store_true", help="column-arithmetic replies (see solve_target)")
    ap.add_argument("--rope-theta", type=float, default=None, help="language RoPE base (default: MODEL)")
    ap.add_argument("--mrope", default=None, help="mrope_section t,h,w (default: MODEL)")
    ap.add_argument("--max-tokens", type=int, default=None, help="vision-token budget per image (default: MAX_PIXELS / 784)")
    ap.add_argument("--tasks", default=None, help="task mix, e.g. ocr:image:0.5,solve:text:0.5 (default: TASKS)")
    a = ap.parse_args(argv)
    global TASKS, MAX_PIXELS, SCRATCHPAD  # the render worker is forked, so it sees these too
    SCRATCHPAD = a.scratchpad
    if a.rope_theta is not None:
        MODEL["rope_theta"] = a.rope_theta
    if a.mrope:
        MODEL["mrope"] = [int(x) for x in a.mrope.split(",")]
    if a.max_tokens:
        MAX_PIXELS = 28 * 28 * a.max_tokens
    if a.tasks:
        TASKS = tuple((k, m, float(w)) for k, m, w in (t.split(":") for t in a.tasks.split(",")))
    info = train(a.out, a.steps, a.batch, a.seed, a.lr, a.log_every, a.stop_at, a.save_every, a.vision_lr_mult,
                 a.aux_weight, a.lm_aux_weight, a.warmup)
    print(f"trained {info['stopped_at']} of {info['steps']} steps in {info['train_seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
