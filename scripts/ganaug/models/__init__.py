"""Networks: the WGAN-GP generator and critic, their losses, and the classifier registry."""
