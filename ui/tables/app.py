"""The entry script's sidebar (``streamlit_app.py``): language and presenter mode."""
from explainer.i18n import DEFAULT_LANGUAGE, LANGUAGES
from ui.state import Param, Table

TABLE = Table("app", [
    Param("lang", "choice", DEFAULT_LANGUAGE, options=tuple(LANGUAGES)),
    Param("presenter", "bool", False),
])
