"""Expected chat-template outputs, rendered by HF transformers' own chat-template code (the compiled
jinja2 environment in transformers.utils.chat_template_utils that apply_chat_template uses), for
vkai's chat template test (tests/unit/test_chat_template.cpp).

Inputs: tests/models/chat_templates/<name>.jinja (the models' template texts, see SOURCES.md) and
tests/models/chat_templates/conversations.json (conversations, tools, which template gets which).
Output: OUT_DIR/expected.json with, for every (template, conversation, add_generation_prompt,
variant), the exact rendered string or the exception the template raised. One failing case never
stops the others. Run on the GPU machine (transformers is there; no network needed), from the repo
root:
    python3 scripts/make_template_goldens.py "$OUT"
then copy $OUT/expected.json to tests/models/chat_templates/expected.json."""
import json
import os
import sys
import traceback

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "models", "chat_templates")


def fnv1a64(data: bytes) -> str:
    # Recorded per template so the C++ test can tell when a .jinja file changed after the goldens.
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def make_renderer():
    """The rendering entry point of the installed transformers, used as is (no jinja2 setup here):
    render_jinja_template (what apply_chat_template calls), else the compiled environment of
    _compile_jinja_template. A canary render picks the first that works, so an API change shows up
    as one clear error instead of every case failing."""
    from transformers.utils import chat_template_utils as ctu

    def via_render_jinja_template(template, messages, tools, add_generation_prompt, kwargs):
        rendered, _ = ctu.render_jinja_template(
            conversations=[messages], tools=tools, chat_template=template,
            add_generation_prompt=add_generation_prompt, **kwargs)
        return rendered[0]

    def via_compiled_template(template, messages, tools, add_generation_prompt, kwargs):
        compiled = ctu._compile_jinja_template(template)
        return compiled.render(messages=messages, tools=tools, documents=None,
                               add_generation_prompt=add_generation_prompt, **kwargs)

    candidates = []
    if hasattr(ctu, "render_jinja_template"):
        candidates.append((via_render_jinja_template, "render_jinja_template"))
    if hasattr(ctu, "_compile_jinja_template"):
        candidates.append((via_compiled_template, "_compile_jinja_template"))
    canary = "{% for m in messages %}{{ bos_token + m['role'] + ':' + m['content'] }}{% endfor %}{{ tools is none }}"
    errors = []
    for render, name in candidates:
        try:
            out = render(canary, [{"role": "user", "content": "hi"}], None, True, {"bos_token": "<s>", "eos_token": "</s>"})
            if out == "<s>user:hiTrue":
                return render, name
            errors.append(f"{name}: canary rendered {out!r}")
        except Exception as e:  # noqa: BLE001
            errors.append(f"{name}: {type(e).__name__}: {e}")
    sys.exit("no usable chat-template renderer in transformers.utils.chat_template_utils: " + "; ".join(errors or ["none found"]))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    import jinja2
    import transformers

    render, entry = make_renderer()
    with open(os.path.join(HERE, "conversations.json"), encoding="utf-8") as f:
        spec = json.load(f)

    cases = []
    templates = {}
    n_ok = n_err = 0
    for tname, tspec in spec["templates"].items():
        path = os.path.join(HERE, tname + ".jinja")
        with open(path, "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8")
        templates[tname] = {"bytes": len(raw), "fnv1a64": fnv1a64(raw)}
        variants = tspec.get("variants") or [{"name": "default", "kwargs": {}}]
        for conv_name in tspec["conversations"]:
            conv = spec["conversations"][conv_name]
            tools_name = conv.get("tools")
            tools = spec["tools"][tools_name] if tools_name else None
            for variant in variants:
                for gen in (False, True):
                    kwargs = {"bos_token": tspec["bos_token"], "eos_token": tspec["eos_token"]}
                    kwargs.update(variant["kwargs"])
                    case = {"template": tname, "conversation": conv_name, "variant": variant["name"],
                            "add_generation_prompt": gen}
                    try:
                        # Deep copies: a template must not see another case's objects.
                        messages = json.loads(json.dumps(conv["messages"]))
                        case_tools = json.loads(json.dumps(tools)) if tools is not None else None
                        case["output"] = render(text, messages, case_tools, gen, kwargs)
                        n_ok += 1
                    except Exception as e:  # noqa: BLE001 - every failure is recorded, none stops the run
                        case["error"] = str(e)
                        case["error_type"] = type(e).__name__
                        if not isinstance(e, jinja2.exceptions.TemplateError):
                            case["traceback"] = traceback.format_exc(limit=3)
                        n_err += 1
                    cases.append(case)

    result = {
        "generator": "scripts/make_template_goldens.py",
        "renderer": "transformers.utils.chat_template_utils." + entry,
        "transformers_version": transformers.__version__,
        "jinja2_version": jinja2.__version__,
        "templates": templates,
        "cases": cases,
    }
    path = os.path.join(out_dir, "expected.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{path}: {len(cases)} cases ({n_ok} rendered, {n_err} raised) with transformers "
          f"{transformers.__version__} via {entry}")


if __name__ == "__main__":
    main()
