"""Curation of the synthetic images: blur, SSIM and LPIPS filters, review, cluster selection."""
