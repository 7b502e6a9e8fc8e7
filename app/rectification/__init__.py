"""问题清单 and 整改: the problems a published campaign shows, and each department's fix."""
