"""Generated from proto/ by buf generate (buf.gen.yaml); the package marker is not generated."""
