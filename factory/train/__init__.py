"""Training: SFT then DPO with Ray Train + TRL (recipes sft.py/dpo.py, glue ray.py), and the iteration loop."""
