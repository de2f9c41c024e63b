"""The Textual app: the only package in Studio that imports textual.

Build it with `studio.tui.app.make_app(project, llm, user)`; `studio` with no command runs it.
"""
