"""Every limit on what a visitor may send or ask for, in one place.

Many learners share one server process, so every input has a limit that is checked before any work
starts. The library checks these values (``explainer.maths.kernels``, ``explainer.data.images``,
``explainer.learning.train``, ``explainer.data.mnist``), the pages pass them to their widgets (``max_chars``,
``max_value``) and show them in help texts through the text catalogue (placeholders filled from here).
"""
from __future__ import annotations

# ---------------------------------------------------------------- typed text
KERNEL_TEXT_CHARS = 1_000  # a typed kernel or grid (7×7 numbers fit in a few hundred characters)
TEXT_CHARS = 2_000  # any other free-text input
URL_VALUE_CHARS = 2_000  # one URL parameter: a longer one is refused before it is parsed
URL_PUBLISH_CHARS = 1_000  # the most a page writes to the URL for one setting (longer: not published)
SHOWN_VALUE_CHARS = 40  # a refused value is quoted in a message up to this many characters

# ---------------------------------------------------------------- uploads (images)
UPLOAD_BYTES = 20 * 1024 * 1024  # the file itself (also Streamlit's server.maxUploadSize, in MB)
UPLOAD_PIXELS = 40_000_000  # 8-bit grey / RGB / palette images: width × height
UPLOAD_PIXELS_DEEP = 16_000_000  # 16-bit, 32-bit, float and images with alpha cost more per pixel
UPLOAD_SIDE = 1024  # larger images are downscaled so their longest side is this

# ---------------------------------------------------------------- checkpoints (model uploads)
CHECKPOINT_BYTES = 20 * 1024 * 1024  # the .pt file
CHECKPOINT_UNPACKED_BYTES = 64 * 1024 * 1024  # all entries of the .pt archive, inflated
CHECKPOINT_ENTRIES = 512  # files inside the .pt archive

# ---------------------------------------------------------------- training
EPOCHS_PAGE = 50  # the Train page's epochs
EPOCHS_CLI = 100  # the command line's epochs
SEED_PAGE = 9_999  # a seed typed on a page (Train, Optimizers); the library takes any up to SEED_MAX
SEED_MAX = 2**32 - 1  # random seeds (NumPy and PyTorch accept 0 … 2³²−1 everywhere)
TRAIN_LR_MAX = 10.0  # learning rates lie strictly between 0 and this
BATCH_SIZE_MAX = 4_096  # images in one mini-batch (at least 1)
TRAIN_SIZE_MIN, TRAIN_SIZE_MAX = 10, 60_000  # training digits used (MNIST's training set has 60,000)

# ---------------------------------------------------------------- other numbers typed in
RECEPTIVE_LAYERS = 12  # rows of the receptive-field layer table (each may grow the maps)
RECEPTIVE_CHANNELS = 1_024  # channels of one layer in the receptive-field table (its parameter count)
OPTIM_START_ABS = 1_000.0  # the Optimizers page's start point x₀, y₀ (the surfaces are plotted within ±5)

# ---------------------------------------------------------------- data files
MNIST_FILE_BYTES = 64 * 1024 * 1024  # one IDX file, uncompressed (the largest, training images, is 47 MB)


def mb(n_bytes: int) -> int:
    """Bytes → whole MB (MiB) for messages."""
    return n_bytes // (1024 * 1024)


def mp(pixels: int) -> int:
    """Pixels → whole megapixels for messages."""
    return pixels // 1_000_000

# ---------------------------------------------------------------- the training engine's queue (fair share)
# A visitor is one browser (a first-party cookie; a client without cookies: each session), or a logged-in user.
JOBS_PER_VISITOR = 3  # jobs waiting or running at once per visitor, across all its tabs and kinds
QUEUE_MAX = 60  # waiting jobs in all; beyond this Start explains the wait and refuses
RESUME_KEEP_SECONDS = 2 * 3600  # a lost training's checkpoint waits this long for its Retry

# ---------------------------------------------------------------- kept runs (explainer.engine.runstore)
# The store of trained runs (a reload or a link brings them back) is shared by every visitor. Each owner (the
# visitor that saved a run: its login, browser cookie, else session) has a quota; a run is pushed out by another owner's save only when it is
# older than the grace period, oldest first; a save that would need to push out a younger run is refused.
RUNS_KEPT = 500  # runs in the store
RUNS_KEPT_BYTES = 512 * 1024 * 1024  # their weights (checkpoint bytes)
RUNS_PER_OWNER = 20  # one owner's runs (their own oldest go first)
RUNS_PER_OWNER_BYTES = 64 * 1024 * 1024  # one owner's weights (four of the largest custom models)
RUNS_GRACE_SECONDS = 24 * 3600  # a run no other owner can push out (a class's day)

# ---------------------------------------------------------------- image decodes (explainer.data.images)
# One decode may hold up to about 160 MB (UPLOAD_PIXELS of RGB, or UPLOAD_PIXELS_DEEP of a deep mode), so the whole
# process decodes at most this many uploads at once (about 320 MB); the next one waits for a free slot up to
# DECODE_WAIT_SECONDS, then is asked to try again (errors.upload_busy).
DECODES_AT_ONCE = 2
DECODE_WAIT_SECONDS = 10.0

# ---------------------------------------------------------------- a learner's own images (explainer.data.ownimages)
# A .zip whose top-level folders are the classes. Everything is read in memory (never extracted to disk); the
# archive's directory is bounded before zipfile parses it, declared sizes before anything is inflated, and the bytes
# actually inflated while reading; every picture's header (format, size) before any picture is decoded.
OWN_ZIP_BYTES = 50 * 1024 * 1024  # the .zip file
OWN_ZIP_ENTRIES = 6_000  # entries in the archive (images, folders, and the junk zip tools add)
OWN_DIRECTORY_BYTES = 4 * 1024 * 1024  # the archive's central directory (≈ 700 bytes an entry at 6,000)
OWN_UNPACKED_BYTES = 200 * 1024 * 1024  # all entries together, inflated (declared and actually read)
OWN_ENTRY_BYTES = UPLOAD_BYTES  # one picture inside, inflated
OWN_ENTRY_RATIO = 200  # inflated ÷ compressed size of one entry larger than OWN_RATIO_FLOOR (a zip bomb beyond)
OWN_RATIO_FLOOR = 1024 * 1024  # smaller entries may compress as well as they like
OWN_NAME_CHARS = 1_000  # one entry's path inside the archive
OWN_CLASS_CHARS = 40  # a class (top-level folder) name: shown on axes, legends and the confusion matrix
OWN_CLASSES_MIN, OWN_CLASSES_MAX = 2, 20  # classes (top-level folders)
OWN_PER_CLASS_MIN = 5  # pictures in each class (one of them, at least, goes to the test set)
OWN_IMAGES_MAX = 5_000  # pictures in all
OWN_DECODE_PIXELS = 1_000_000_000  # all pictures' decoded pixels together (JPEGs count at their reduced draft size)
OWN_DECODE_SIDE = 128  # each picture is reduced to at most about this side before it is prepared
OWN_TEST_SHARE = 0.2  # of each class, held out for testing (seeded, stratified)
OWN_SAMPLES_PER_CLASS = 8  # prepared pictures per class kept for the sample grid
OWN_SHIPPED_BYTES = 16 * 1024 * 1024  # prepared arrays sent once with a training job (5,000 × 32×32×3 is 15 MB)

# ---------------------------------------------------------------- one upload request (Streamlit's server.maxUploadSize)
# The server refuses (413) any upload request larger than this, whichever widget it is for: it bounds the memory one
# upload holds (Streamlit reads the file whole). It is the largest of the limits above; each file uploader also passes
# its own limit as ``max_upload_size``, so the browser refuses a larger file before sending it, and the page checks it
# again before any work. .streamlit/config.toml holds the same number (a test keeps them equal). The browser's check
# counts 1 MB as 10⁶ bytes (1024² on Windows), as the learner's file manager shows sizes: it lets through at most
# this many bytes, so an honest client never meets the server's refusal (an English-only 413).
UPLOAD_REQUEST_BYTES = max(UPLOAD_BYTES, CHECKPOINT_BYTES, OWN_ZIP_BYTES)

# ---------------------------------------------------------------- class polls (explainer.polls)
# A lecturer asks the room one question; students answer on their phones through any replica.
POLL_SECONDS = 3 * 3600  # a poll takes answers for at most this long after it opens
POLL_ANSWERS = 500  # answers one poll takes (then it is full)
POLL_ANSWER_CHARS = 64  # one answer as sent (a number, a choice's value, a cell "row,col")
POLL_NUMBER_ABS = 1_000_000_000  # a number answer lies within ±this (as a question's: a custom model has ~2 million parameters)
POLL_QUESTION_BYTES = 16 * 1024  # the posed question a poll keeps (its JSON)
POLL_CHOICES_MAX = 20  # choices of a choice question
POLL_GRID_SIDE = 64  # rows and columns of a cell question's grid
POLLS_OPEN_MAX = 2_000  # polls taking answers at once on the whole server (one course's lecturers and more)
POLL_KEPT_SECONDS = 7 * 24 * 3600  # a poll (and its answers) is deleted this long after it opened
POLL_SESSION_CHARS = 200  # the answering session's id (only its hash is kept)
POLL_SECRET_CHARS = 100  # the lecturer's secret as sent (longer: wrong)
POLL_GUESSES = 10  # wrong or unknown codes one session (or one browser, by its cookie) may try per window
POLL_GUESS_WINDOW_S = 60.0  # ... in this many seconds; then the code box waits
POLL_GUESS_BROWSERS = 10_000  # browsers whose wrong codes a process remembers (the oldest forgotten first)
POLL_CODE_TYPED_CHARS = 24  # the code box takes this much (6 characters, with spaces and dashes as typed)
POLL_TICK_S = 1.0  # the projector's histogram is re-read this often (one aggregate query): current within 2 s
POLL_STUDENT_TICK_S = 2.0  # a student's phone asks whether the poll was revealed this often (one row by its key)

# ---------------------------------------------------------------- predict first (explainer.questions, ui.questions)
QUESTION_NUMBER_ABS = 1_000_000_000  # a learner's number answer lies within ±this (a model's parameters: ~2 million)
QUESTION_GRID_SIDE = 64  # rows and columns of a cell question's grid (X/O's maps are 7×7)
POLL_FIGURE_SIDE = 40  # a poll's question figure draws grids up to this many rows and columns (a larger state: no figure)
