"""Importable, tested functions behind the Speech Drives Templates workflow (SDT, Qian et al., ICCV 2021).

Step scripts in ``workflow_scripts/`` are thin adapters over these modules; networks live in ``models/``.
"""
