"""The home page's mini-demo."""
from ui.state import Param, Table

DEMO_KERNELS = ("vertical_edge", "horizontal_edge", "sobel_x", "laplacian_8", "sharpen", "box_blur_3")
DEMO_IMAGES = ("camera", "checkerboard", "shapes", "text", "coins")

TABLE = Table("home", [
    Param("home_kernel", "choice", "vertical_edge", options=DEMO_KERNELS),
    Param("home_image", "choice", "camera", options=DEMO_IMAGES),
])
