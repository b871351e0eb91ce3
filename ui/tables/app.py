"""The entry script's sidebar (``streamlit_app.py``): language, presenter mode, predict first."""
from explainer.i18n import DEFAULT_LANGUAGE, LANGUAGES
from ui.state import Param, Table

TABLE = Table("app", [
    Param("lang", "choice", DEFAULT_LANGUAGE, options=tuple(LANGUAGES)),
    Param("presenter", "bool", False),
    Param("predict", "bool", True, url=False),  # lessons ask before they show (ui/questions.py); session only
])
