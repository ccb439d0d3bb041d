"""Container images, Compose and Kubernetes manifests, and the static checks that keep them true."""
