"""What every LoRA pack does the same way: load the frozen base model (QLoRA on CUDA), put the
adapter on it, check the target modules, and checkpoint or resume the adapter with its optimizer,
scheduler and loop position. One place, so a fix reaches every pack."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

import torch
from peft import (LoraConfig, PeftModel, get_peft_model, get_peft_model_state_dict, prepare_model_for_kbit_training,
                  set_peft_model_state_dict)

from . import protocol as tp
from . import torch_utils as tu


def _is_linear(m: torch.nn.Module) -> bool:
    if isinstance(m, torch.nn.Linear):
        return True
    try:  # GPT-2-style models use Conv1D for their projections
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # pragma: no cover - transformers always ships it
        return False
    return isinstance(m, Conv1D)


def check_targets(model: torch.nn.Module, targets: List[str]) -> None:
    """PEFT matches a target by the end of a module's dotted name; say which names exist when none match."""
    names = [n for n, _ in model.named_modules()]
    matches = {t: any(n == t or n.endswith("." + t) for n in names) for t in targets}
    if any(matches.values()):
        missing = [t for t, ok in matches.items() if not ok]
        if missing:
            tp.log(f"target modules not in this model (ignored): {', '.join(missing)}", "warn")
        return
    linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if _is_linear(m)})
    raise tp.TrainerError("TARGET_MODULES_NOT_FOUND",
                          f"none of the target modules {targets} exists in this model; its linear modules are: {', '.join(linear)}")


def save_adapter_checkpoint(spec: Dict[str, Any], step: int, model, optimizer, scheduler, total_steps: int,
                            position: Dict[str, Any]) -> None:
    tu.save_checkpoint(spec, step, {
        "adapter": get_peft_model_state_dict(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "total_steps": total_steps,
        "position": dict(position),
    })


def resume_adapter_checkpoint(spec: Dict[str, Any], model, optimizer, scheduler, total_steps: int) -> Optional[Dict[str, Any]]:
    """Loads the adapter, optimizer and scheduler from the job's resume checkpoint; returns the saved
    loop position, or None when there is nothing to resume from."""
    state: Optional[Dict[str, Any]] = tu.load_resume(spec)
    if state is None:
        return None
    if state.get("total_steps") != total_steps:
        tp.log(f"the checkpoint was made for {state.get('total_steps')} steps, this run has {total_steps}: "
               "the data or hyperparameters changed", "warn")
    set_peft_model_state_dict(model, state["adapter"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return state["position"]


def load_options(quantization: str, dev: torch.device, skip: Optional[List[str]] = None) -> Tuple[Dict[str, Any], str]:
    """from_pretrained options for a frozen base model, and the quantization really used: 4-bit NF4
    on CUDA when asked (QLoRA; `skip` keeps modules such as new heads in full precision), bf16 on a
    CUDA device that has it, else fp32. On CPU a 4-bit request trains plain LoRA, and says so."""
    if quantization == "4bit" and dev.type != "cuda":
        tp.log("quantization=4bit needs CUDA: training plain LoRA in fp32 on CPU", "warn")
    elif quantization == "4bit":
        try:
            import bitsandbytes  # noqa: F401  (only the CUDA path needs it)
            from transformers import BitsAndBytesConfig
        except ImportError as e:
            raise tp.TrainerError("QUANTIZATION_UNAVAILABLE", f"quantization=4bit needs bitsandbytes, which is not installed: {e}")
        return {"dtype": torch.bfloat16, "device_map": {"": torch.cuda.current_device()},
                "quantization_config": BitsAndBytesConfig(
                    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                    bnb_4bit_compute_dtype=torch.bfloat16, llm_int8_skip_modules=skip or None)}, "4bit-nf4"
    elif dev.type == "cuda" and torch.cuda.is_bf16_supported():
        # Frozen base weights in bf16; PEFT keeps the adapter itself in fp32.
        return {"dtype": torch.bfloat16}, "none"
    return {"dtype": torch.float32}, "none"


def load_frozen(cls, base: str, quantization: str, dev: torch.device, skip: Optional[List[str]] = None,
                what: Optional[str] = None, gradient_checkpointing: Optional[bool] = None, **kwargs):
    """The base model, frozen, on `dev`: 4-bit NF4 on CUDA when asked (QLoRA, prepared for k-bit
    training); on CPU a 4-bit request trains plain LoRA. Returns it and the quantization used.
    gradient_checkpointing None keeps what PEFT's QLoRA recipe does (on with 4-bit, off otherwise):
    it trades about a third more compute for activation memory, so it is a choice, not a given."""
    opts, used = load_options(quantization, dev, skip)
    try:
        model = cls.from_pretrained(base, **{**kwargs, **opts})
    except (ValueError, OSError, KeyError, RuntimeError) as e:
        raise tp.TrainerError("BASE_MODEL_UNSUPPORTED", f"cannot load {base} as {what or cls.__name__}: {e}")
    if hasattr(model.config, "use_cache"):
        model.config.use_cache = False
    checkpointing = (used == "4bit-nf4") if gradient_checkpointing is None else bool(gradient_checkpointing)
    if used == "4bit-nf4":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing)
    else:
        model.to(dev)
        if checkpointing and hasattr(model, "gradient_checkpointing_enable"):
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model, used


def adapt(model, spec: Dict[str, Any], hp: Dict[str, Any], **lora: Any):
    """A PEFT LoRA over hp's target modules with hp's rank, alpha and dropout (`lora`: more
    LoraConfig fields, e.g. task_type or modules_to_save), or, for a warm start, the previous
    version's adapter with its own settings."""
    init = spec.get("init_from")
    if init:
        if not os.path.isfile(os.path.join(init, "adapter_config.json")):
            raise tp.TrainerError("INIT_FROM_INVALID", f"init_from {init} has no adapter_config.json")
        tp.log("warm start from the previous adapter: its rank, alpha and target modules are kept")
        return PeftModel.from_pretrained(model, init, is_trainable=True)
    targets = [str(t) for t in hp["target_modules"]]
    check_targets(model, targets)
    cfg = LoraConfig(r=int(hp["lora_rank"]), lora_alpha=int(hp["lora_alpha"]), lora_dropout=float(hp["lora_dropout"]),
                     target_modules=targets, bias="none", **lora)
    return get_peft_model(model, cfg)
