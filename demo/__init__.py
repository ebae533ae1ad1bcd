"""The photonas web demo (Gradio), served by ``app.py``: a thin layer over the library.

``demo.ui`` builds the page, ``demo.run`` answers one request, ``demo.models`` loads the
weights once, ``demo.regions`` turns painted regions into label maps.
"""
