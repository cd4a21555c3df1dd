from collections.abc import Sequence
from typing import Annotated

from numpy.typing import NDArray


def error_code_name(arg: int, /) -> str:
    """Name of an ome_writers::ErrorCode value."""

def settings_roundtrip(settings_json: str) -> str:
    """
    Parses settings JSON in C++ and serialises it again (keeps Python and C++ in step).
    """

def output_path(settings_json: str) -> str:
    """The output path the C++ engine derives from the settings."""

def check_compression(format: str, compression: str) -> None:
    """
    Raises ValueError unless the format ('ome-zarr' or 'ome-tiff') can store the codec.
    """

def version() -> str:
    """Version of the C++ library."""

def dependency_versions() -> dict:
    """
    The C libraries this build runs, name -> version (libtiff, zstd, blosc, libdeflate, pugixml).
    """

def recover(path: str) -> int:
    """
    Repairs the metadata of an output left by a process that died before close().
    """

class Stream:
    """Writes frames to OME-Zarr or OME-TIFF (see stream.hpp)."""

    def __init__(self, settings_json: str) -> None:
        """Creates the output described by the settings JSON."""

    def append(self, frame: Annotated[NDArray, dict(order='C', device='cpu', writable=False)], metadata_json: str | None = None) -> float:
        """
        Copies one C-contiguous frame into the queue (its bytes must match the stream); returns the seconds it waited for room in the memory budget.
        """

    def append_borrowed(self, frame: object, metadata_json: str | None = None) -> float:
        """
        Queues a C-contiguous buffer itself, without a copy; it is held (and must not be changed) until written. Returns the seconds it waited for room in the memory budget.
        """

    def skip(self, frames: int = 1) -> None:
        """Advances past frames that have no data."""

    def flush(self) -> None:
        """Waits until everything appended is in the files."""

    def close(self) -> None:
        """Drains the queue, writes the final metadata and closes the files."""

    @property
    def closed(self) -> bool:
        """True after close()."""

    @property
    def output_path(self) -> str:
        """The output file or directory."""

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame."""

    def locate(self, frame_number: int) -> tuple[int, list[int]]:
        """(position, storage index) of the n-th frame."""

    def stats(self) -> dict:
        """Counters of the stream as a dict."""

    def metadata_json(self) -> str:
        """Metadata documents as JSON text."""

    def update_metadata_json(self, metadata_json: str) -> None:
        """Replaces metadata documents (JSON text)."""

    def set_global_metadata(self, name_space: str, metadata_json: str) -> None:
        """Stores a summary object under a namespace."""

    def read_frame(self, position: int, storage_index: Sequence[int], out: Annotated[NDArray, dict(order='C', device='cpu')]) -> bool:
        """
        Copies an appended frame into `out`; False when it was never appended or skipped.
        """

    def current_shape(self, position: int) -> list[int]:
        """Current extent of each storage dimension of a position."""

    def levels(self) -> int:
        """Pyramid datasets, full resolution included."""

    def read_level_frame(self, position: int, level: int, storage_index: Sequence[int], out: Annotated[NDArray, dict(order='C', device='cpu')]) -> bool:
        """
        Copies a plane of pyramid level `level` into `out`; False when not computed yet.
        """

    def level_shape(self, position: int, level: int) -> list[int]:
        """Current extent of each storage dimension of a pyramid level's array."""

class OutputPlan:
    """Routing and metadata documents of an output (see output_plan.hpp)."""

    def __init__(self, settings_json: str) -> None:
        """Validates the settings JSON as Stream does (URLs allowed)."""

    def locate(self, frame_number: int) -> tuple[int, list[int]]:
        """(position, storage index) of the n-th frame."""

    @property
    def total_frames(self) -> int | None:
        """Declared frames, None: unbounded."""

    @property
    def positions(self) -> int:
        """Number of positions."""

    @property
    def declared_shape(self) -> list[int]:
        """Array shape in storage order (0: the unbounded axis)."""

    @property
    def chunk_shape(self) -> list[int]:
        """Chunk shape in storage order."""

    @property
    def shard_shape(self) -> list[int]:
        """Shard shape in storage order (the chunk shape when not sharded)."""

    @property
    def dimension_names(self) -> list[str]:
        """Dimension names in storage order."""

    def record(self, position: int, storage_index: Sequence[int], metadata_json: str | None = None, skipped: bool = False) -> None:
        """Records a frame written (or skipped), in file order."""

    def zarr_image_group(self, position: int) -> str:
        """Image group path of a position (relative to the root)."""

    def zarr_array_document(self, shape: Sequence[int]) -> str:
        """The array zarr.json text at `shape`."""

    def zarr_group_documents(self) -> dict[str, str]:
        """Every group zarr.json text, by group path."""

    def zarr_ome_xml(self) -> str | None:
        """OME/METADATA.ome.xml of a bioformats2raw store, or None."""

    def tiff_file_names(self) -> list[str]:
        """OME-TIFF file names, by position."""

    def tiff_companion_name(self) -> str:
        r"""Companion file name (\'\' when none)."""

    def finish_tiff(self) -> list[int]:
        """
        Records the blank planes that complete the last index; their positions.
        """

    def tiff_ome_xml(self, file_index: int, closed: bool) -> str:
        """OME-XML of a file for the planes recorded."""

    def tiff_companion_xml(self, closed: bool) -> str:
        r"""OME-XML of the companion file (\'\' when none)."""

    def metadata_json(self, closed: bool = False) -> str:
        """get_metadata() documents as JSON text."""

    def update_metadata_json(self, metadata_json: str) -> None:
        """Replaces image-group attributes (OME-Zarr)."""

    def set_global_metadata(self, name_space: str, metadata_json: str) -> None:
        """Stores a summary object under a namespace."""

def metadata_json(metadata: object) -> str | None:
    """
    The JSON text of a dict of plain values (str keys; str, int, float, bool, None, lists, tuples, dicts), or None for anything else (use Python's json then).
    """
