"""What the engine and the library lean on. At run time it imports nothing else of tinygrad6 (errors.py names the
engine's types for a type checker only): the error messages and the checks that raise them (errors.py), source lines
and names (locations.py), value previews (display.py), modes as decorators of generators and coroutines
(contextdecorator.py), the compiled step's one hook into the engine (tracing.py) and files written whole or not at
all (files.py)."""
