"""Slim baseline GANs trained by the same loop as LadaGAN (conv, TransGAN-style, dot-product)."""
