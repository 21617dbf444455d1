"""Failure drills: break a part of the pipeline (or flood it), and check what people are told
and that nothing is lost."""
