#!/usr/bin/env python3
"""What transformers and sentence-transformers compute from the folders `peft export` writes.

Written independently of the Java code, from the references' source, and run on the exported files
alone (NumPy only, float64):

  transformers (modeling_bert.py at commit 8ec58104181bfb34d824d89bccc009b4f6be6e0e):
    - weight loading: the state-dict names of BertModel (BertEmbeddings, BertLayer ->
      BertAttention(BertSelfAttention, BertSelfOutput), BertIntermediate, BertOutput; BertPooler) and
      of BertForSequenceClassification ("bert." + BertModel, "classifier"); position_ids and
      token_type_ids are non-persistent buffers (BertEmbeddings.__init__), so not expected in the
      file. from_pretrained reports missing and unexpected keys; this script requires both empty.
    - forward: BertEmbeddings.forward (word + token_type + position embeddings, LayerNorm),
      BertSelfAttention.forward (scores / sqrt(head_size) + extended mask, softmax, context),
      BertSelfOutput / BertOutput (LayerNorm(dense(x) + input)), BertIntermediate (ACT2FN["gelu"],
      the erf GELU), BertPooler (tanh(dense(h[:, 0]))), BertForSequenceClassification.forward
      (classifier(dropout(pooled)), dropout off in eval); the extended attention mask of
      ModuleUtilsMixin.get_extended_attention_mask: (1 - mask) * finfo(float32).min.
  transformers' BertTokenizer (tokenization_bert.py at commit 7a91be86192f77b3e69c2fc9498154d944a30260):
    BasicTokenizer.tokenize (_clean_text, _tokenize_chinese_chars, whitespace split, lower case and
    accent stripping, _run_split_on_punc) and WordpieceTokenizer.tokenize (greedy longest match,
    "##" continuation, [UNK] past 100 characters), from vocab.txt and tokenizer_config.json;
    build_inputs_with_special_tokens: [CLS] x [SEP].
  sentence-transformers (commit 85ec6455, version 5.2.0.dev0):
    - SentenceTransformer._load_sbert_model / save (SentenceTransformer.py 1685-1775): modules.json
      lists the modules in order; the first (Transformer) sits at the root.
    - models/Transformer.py 289-325 (tokenize: strip, truncation "longest_first" at max_seq_length
      from sentence_bert_config.json, padding to the longest) and 237-263 (forward: token_embeddings
      = the model's last hidden state).
    - models/Pooling.py 135-235 (cls: token 0; mean: sum(h * mask) / clamp(sum(mask), 1e-9)).
    - models/Dense.py 62-64 (activation(linear(x)); weights linear.weight / linear.bias, loaded
      strictly: Module.py 334-349 raises on missing or unexpected keys), activation by its import
      path ("torch.nn.modules.linear.Identity", "torch.nn.modules.activation.Tanh").
    - models/Normalize.py 21 (F.normalize(p=2, dim=1): x / max(||x||, 1e-12)).

Regenerate peft-cli/src/test/resources/dev/peft4j/cli/export/reference.json with:
  mvn -pl peft-cli test -Dtest=ExportCommandTest -DargLine=-Dpeft4j.exportReferenceDir=/tmp/exports
  python3 peft-cli/src/test/java/dev/peft4j/cli/export_reference.py /tmp/exports \
      > peft-cli/src/test/resources/dev/peft4j/cli/export/reference.json
The sentences come from /tmp/exports/sentences.json (the test's SENTENCES).
"""
import hashlib
import json
import math
import os
import struct
import sys
import unicodedata

import numpy as np

F32_MIN = float(np.finfo(np.float32).min)


# --- files ------------------------------------------------------------------------------------

def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (path, name, info["dtype"])
        start, end = info["data_offsets"]
        arr = np.frombuffer(data[8 + n + start:8 + n + end], dtype="<f4").reshape(info["shape"])
        out[name] = arr.astype(np.float64)
    return out


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def bert_model_keys(config, prefix=""):
    keys = [prefix + "embeddings." + k for k in (
        "word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
        "LayerNorm.weight", "LayerNorm.bias")]
    for i in range(config["num_hidden_layers"]):
        layer = prefix + "encoder.layer.%d." % i
        for m in ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                  "output.dense", "output.LayerNorm"):
            keys += [layer + m + ".weight", layer + m + ".bias"]
    keys += [prefix + "pooler.dense.weight", prefix + "pooler.dense.bias"]
    return keys


def load_strict(path, expected):
    """The file's tensors; fails on missing or unexpected names (from_pretrained's loading info)."""
    tensors = read_safetensors(path)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    assert not missing and not unexpected, (path, "missing", missing, "unexpected", unexpected)
    return tensors


# --- BertTokenizer ----------------------------------------------------------------------------

def is_whitespace(c):
    return c in (" ", "\t", "\n", "\r") or unicodedata.category(c) == "Zs"


def is_control(c):
    if c in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(c).startswith("C")


def is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def is_chinese(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text, lower, strip_accents, chinese):
    text = "".join(" " if is_whitespace(c) else c for c in text
                   if not (ord(c) == 0 or ord(c) == 0xFFFD or is_control(c)))
    if chinese:
        text = "".join(" %s " % c if is_chinese(ord(c)) else c for c in text)
    out = []
    for token in text.split():
        if lower:
            token = token.lower()
            if strip_accents is not False:
                token = "".join(c for c in unicodedata.normalize("NFD", token)
                                if unicodedata.category(c) != "Mn")
        elif strip_accents:
            token = "".join(c for c in unicodedata.normalize("NFD", token)
                            if unicodedata.category(c) != "Mn")
        words, start = [], True
        for c in token:
            if is_punctuation(c):
                words.append(c)
                start = True
            else:
                if start:
                    words.append("")
                start = False
                words[-1] += c
        out += words
    return " ".join(out).split()


def wordpiece(token, vocab, unk="[UNK]"):
    if len(token) > 100:
        return [unk]
    pieces, start = [], 0
    while start < len(token):
        end, cur = len(token), None
        while start < end:
            sub = token[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None:
            return [unk]
        pieces.append(cur)
        start = end
    return pieces


class Tokenizer:
    def __init__(self, folder):
        with open(os.path.join(folder, "vocab.txt"), encoding="utf-8") as f:
            self.vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
        c = read_json(os.path.join(folder, "tokenizer_config.json"))
        assert c["tokenizer_class"] == "BertTokenizer", c
        self.lower = c.get("do_lower_case", True)
        self.strip_accents = c.get("strip_accents")
        self.chinese = c.get("tokenize_chinese_chars", True)
        self.model_max_length = c["model_max_length"]
        self.cls = self.vocab[c["cls_token"]]
        self.sep = self.vocab[c["sep_token"]]
        self.pad = self.vocab[c["pad_token"]]
        fast = read_json(os.path.join(folder, "tokenizer.json"))
        assert fast["padding"] is None, "tokenizer.json pads by itself"
        assert fast["truncation"]["max_length"] == self.model_max_length, fast["truncation"]

    def ids(self, text, max_length):
        pieces = []
        for t in basic_tokenize(text, self.lower, self.strip_accents, self.chinese):
            pieces += wordpiece(t, self.vocab)
        ids = [self.vocab[p] for p in pieces][:max_length - 2]
        return [self.cls] + ids + [self.sep]

    def batch(self, texts, max_length):
        rows = [self.ids(t, max_length) for t in texts]
        longest = max(len(r) for r in rows)
        ids = np.array([r + [self.pad] * (longest - len(r)) for r in rows])
        mask = np.array([[1] * len(r) + [0] * (longest - len(r)) for r in rows])
        return rows, ids, mask


# --- BERT forward -----------------------------------------------------------------------------

def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def linear(x, t, name):
    return x @ t[name + ".weight"].T + t[name + ".bias"]


ERF = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + ERF(x / math.sqrt(2.0)))


def bert(t, config, ids, mask, prefix=""):
    """BertModel.forward: (last_hidden_state, pooler_output)."""
    assert config["hidden_act"] == "gelu" and config["position_embedding_type"] == "absolute"
    eps = config["layer_norm_eps"]
    heads = config["num_attention_heads"]
    p = prefix + "embeddings."
    seq = ids.shape[1]
    h = (t[p + "word_embeddings.weight"][ids] + t[p + "token_type_embeddings.weight"][np.zeros_like(ids)]
         + t[p + "position_embeddings.weight"][np.arange(seq)][None])
    h = layer_norm(h, t[p + "LayerNorm.weight"], t[p + "LayerNorm.bias"], eps)
    extended = (1.0 - mask[:, None, None, :]) * F32_MIN
    b, _, hidden = h.shape
    d = hidden // heads
    for i in range(config["num_hidden_layers"]):
        l = prefix + "encoder.layer.%d." % i

        def split(x):
            return x.reshape(b, seq, heads, d).transpose(0, 2, 1, 3)

        q = split(linear(h, t, l + "attention.self.query"))
        k = split(linear(h, t, l + "attention.self.key"))
        v = split(linear(h, t, l + "attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + extended
        scores = scores - scores.max(-1, keepdims=True)
        probs = np.exp(scores)
        probs = probs / probs.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b, seq, hidden)
        a = layer_norm(linear(ctx, t, l + "attention.output.dense") + h,
                       t[l + "attention.output.LayerNorm.weight"], t[l + "attention.output.LayerNorm.bias"], eps)
        inter = gelu(linear(a, t, l + "intermediate.dense"))
        h = layer_norm(linear(inter, t, l + "output.dense") + a,
                       t[l + "output.LayerNorm.weight"], t[l + "output.LayerNorm.bias"], eps)
    pooled = np.tanh(linear(h[:, 0], t, prefix + "pooler.dense"))
    return h, pooled


# --- the two loaders --------------------------------------------------------------------------

ACTIVATIONS = {"torch.nn.modules.linear.Identity": lambda x: x,
               "torch.nn.modules.activation.Tanh": np.tanh}


def transformers_classifier(folder, sentences, files):
    config = read_json(os.path.join(folder, "config.json"))
    assert config["architectures"] == ["BertForSequenceClassification"], config["architectures"]
    labels = len(config["id2label"])
    assert sorted(config["label2id"].values()) == list(range(labels))
    keys = bert_model_keys(config, "bert.") + ["classifier.weight", "classifier.bias"]
    t = load_strict(os.path.join(folder, "model.safetensors"), keys)
    files["model.safetensors"] = keys
    tok = Tokenizer(folder)
    rows, ids, mask = tok.batch(sentences, tok.model_max_length)  # truncation=True, padding=True
    _, pooled = bert(t, config, ids, mask, "bert.")
    return rows, linear(pooled, t, "classifier")


def sentence_transformer(folder, sentences, files):
    modules = read_json(os.path.join(folder, "modules.json"))
    assert modules[0]["type"] == "sentence_transformers.models.Transformer" and modules[0]["path"] == ""
    config = read_json(os.path.join(folder, "config.json"))
    keys = bert_model_keys(config)
    t = load_strict(os.path.join(folder, "model.safetensors"), keys)
    files["model.safetensors"] = keys
    sbert = read_json(os.path.join(folder, "sentence_bert_config.json"))
    tok = Tokenizer(folder)
    texts = [s.strip() for s in sentences]
    if sbert["do_lower_case"]:
        texts = [s.lower() for s in texts]
    rows, ids, mask = tok.batch(texts, sbert["max_seq_length"])
    tokens, _ = bert(t, config, ids, mask)
    x = None
    for m in modules[1:]:
        path = os.path.join(folder, m["path"])
        kind = m["type"]
        if kind == "sentence_transformers.models.Pooling":
            c = read_json(os.path.join(path, "config.json"))
            assert c["word_embedding_dimension"] == config["hidden_size"]
            modes = [k for k in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens",
                                 "weightedmean_tokens", "lasttoken") if c["pooling_mode_" + k]]
            assert len(modes) == 1 and modes[0] in ("cls_token", "mean_tokens"), modes
            if modes[0] == "cls_token":
                x = tokens[:, 0]
            else:
                m3 = mask[:, :, None].astype(np.float64)
                x = (tokens * m3).sum(1) / np.maximum(m3.sum(1), 1e-9)
        elif kind == "sentence_transformers.models.Dense":
            c = read_json(os.path.join(path, "config.json"))
            assert c["bias"] and c["in_features"] == x.shape[1]
            d = load_strict(os.path.join(path, "model.safetensors"), ["linear.weight", "linear.bias"])
            files[m["path"] + "/model.safetensors"] = ["linear.weight", "linear.bias"]
            assert d["linear.weight"].shape == (c["out_features"], c["in_features"])
            x = ACTIVATIONS[c["activation_function"]](linear(x, d, "linear"))
        elif kind == "sentence_transformers.models.Normalize":
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        else:
            raise AssertionError("module not transcribed here: " + kind)
    return rows, x


def main(root):
    sentences = read_json(os.path.join(root, "sentences.json"))["sentences"]
    cases = {}
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder):
            continue
        files = {}
        if os.path.exists(os.path.join(folder, "modules.json")):
            rows, out = sentence_transformer(folder, sentences, files)
        else:
            rows, out = transformers_classifier(folder, sentences, files)
        listing = sorted(os.path.relpath(os.path.join(d, f), folder).replace(os.sep, "/")
                         for d, _, fs in os.walk(folder) for f in fs)
        # what these outputs were computed from, so that the Java test can tell that a later
        # export is the same: every small JSON file, hashes of the tokenizer files, and the sum
        # and sum of squares of every tensor
        configs = {f: read_json(os.path.join(folder, f)) for f in listing
                   if f.endswith(".json") and f != "tokenizer.json"}
        digests = {f: hashlib.sha256(open(os.path.join(folder, f), "rb").read()).hexdigest()
                   for f in ("tokenizer.json", "vocab.txt")}
        sums = {f: {k: [float(v.sum()), float((v * v).sum())]
                    for k, v in sorted(read_safetensors(os.path.join(folder, f)).items())}
                for f in files}
        cases[name] = {"files": listing, "tensors": files, "json": configs, "sha256": digests,
                       "sums": sums, "input_ids": rows,
                       "outputs": [[round(float(v), 7) for v in row] for row in out]}
    json.dump({"sentences": sentences, "cases": cases}, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main(sys.argv[1])
