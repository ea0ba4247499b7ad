"""Developer tools, outside the installed package (the Docker image does not carry them).

Run from the repository root as modules, e.g. `python -m tools.local_cluster start`; every path
they use is an argument or relative to the current directory.
"""
