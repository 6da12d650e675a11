"""The GPU compatibility data (``repro/data/compat.json``), loaded into typed values (pure).

The data says which CUDA builds each framework release has and how to install them, which
CUDA and cuDNN a TensorFlow release needs in the image, which ``nvidia/cuda`` tags exist
(and which were deleted, with the images used instead), the driver each CUDA needs, the GPU
architectures each torch CUDA build has kernels for, and where an Ubuntu release gets each
Python. ``scripts/gen_compat.py`` regenerates it from
the sources it names. This module only reads and looks up; ``base_image`` decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from repro import datafiles

SCHEMA_VERSION = datafiles.SCHEMAS["compat.json"]
Flavour = Literal["base", "runtime", "devel"]


def minor_key(minor: str) -> tuple[int, ...]:
    """``"12.10"`` sorts after ``"12.9"``."""
    return tuple(int(p) for p in minor.split("."))


def minor_of(version: str) -> str:
    return ".".join(version.split(".")[:2])


def major_of(version: str) -> str:
    return version.split(".")[0]


def exact_version(specifier: str) -> str | None:
    """The one version a specifier pins (``==1.8.1``, ``===2.0``), or None: no pin, two,
    a wildcard (``==1.8.*``) or a specifier that does not parse."""
    try:
        spec = SpecifierSet(specifier)
    except InvalidSpecifier:
        return None
    pins = [s.version for s in spec if s.operator in ("==", "===") and "*" not in s.version]
    return pins[0] if len(pins) == 1 else None


def driver_key(driver: str) -> tuple[int, ...]:
    return tuple(int(p) for p in driver.split(".") if p.isdigit())


@dataclass(frozen=True, kw_only=True)
class CudaTag:
    """One ``nvidia/cuda`` tag that exists."""

    tag: str  # "12.6.3-cudnn-runtime-ubuntu24.04"
    cuda: str  # "12.6.3"
    flavour: Flavour
    ubuntu: str  # "24.04"
    cudnn: str | None  # cuDNN version inside the image ("9.5.1.17", "9"), None without

    @property
    def name(self) -> str:
        return f"nvidia/cuda:{self.tag}"

    @property
    def minor(self) -> str:
        return minor_of(self.cuda)

    def sort_key(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Newest patch first, then newest Ubuntu (sort with ``reverse=True``)."""
        return (minor_key(self.cuda), minor_key(self.ubuntu))


@dataclass(frozen=True, kw_only=True)
class TorchBuild:
    cuda: str  # "11.8"
    tag: str  # "cu118"
    local: str | None  # "+cu118", "" for PyPI's own wheel, None: no install recipe known
    index_url: str | None
    find_links: str | None
    # before the per-CUDA wheel pages (CUDA 7.5 builds of 0.1-0.3): the wheel's URL, with
    # {abi} for the Python ("cp36-cp36m"; Python 2.7's is py2_abi)
    url: str | None = None
    py2_abi: str | None = None

    def wheel_url(self, python: str) -> str | None:
        """The wheel URL of this build for ``python``, when it is installed by URL."""
        if self.url is None:
            return None
        digits = python.replace(".", "")
        abi = self.py2_abi if python.startswith("2.") else f"cp{digits}-cp{digits}m"
        return self.url.format(abi=abi)


@dataclass(frozen=True, kw_only=True)
class TorchRelease:
    torch: str
    torchvision: str | None
    torchaudio: str | None
    python: tuple[str, ...]
    default_cuda: str | None  # the CUDA of PyPI's wheel
    released: str | None  # first upload to PyPI (ISO date)
    builds: tuple[TorchBuild, ...]
    sources: tuple[str, ...]
    verified: bool
    inherited_from: str | None = None
    wheel: str | None = None  # the file version of a post release ("0.3.0.post4")

    @property
    def wheel_version(self) -> str:
        """The version pip must be asked for (a post release's own)."""
        return self.wheel or self.torch


def capability_key(capability: str) -> tuple[int, int]:
    """``"8.6"`` or ``"sm_86"`` -> ``(8, 6)`` (a compute capability's major and minor)."""
    if capability.startswith("sm_"):
        digits = capability[3:]
        return int(digits[:-1]), int(digits[-1])
    major, _, minor = capability.partition(".")
    return int(major), int(minor)


@dataclass(frozen=True, kw_only=True)
class TorchArch:
    """The GPU architectures one torch CUDA build has kernels for."""

    torch: str  # a version specifier: ">=1.9.1,<1.12"
    cuda: str  # "11.1"
    tag: str  # "cu111"
    sm: tuple[str, ...]  # SASS: ("sm_35", ..., "sm_86")
    ptx: bool | None  # PTX of the newest sm_ included; None: the source does not say
    measured: str | None  # "pip", "conda", None (carried over from neighbouring rows)
    sources: tuple[str, ...]
    verified: bool

    def covers(self, capability: str) -> bool:
        """Whether a GPU of ``capability`` ("8.0") can run these kernels.

        SASS for sm_XY runs on devices of major X and minor >= Y; PTX (of the newest
        architecture) is JIT-compiled by the driver for any newer device. Unknown PTX
        counts as absent.
        """
        major, minor = capability_key(capability)
        built = [capability_key(s) for s in self.sm]
        if any(m == major and n <= minor for m, n in built):
            return True
        return bool(self.ptx) and bool(built) and max(built) <= (major, minor)

    @property
    def label(self) -> str:
        ptx = f" + PTX {self.sm[-1].replace('sm_', 'compute_')}" if self.ptx and self.sm else ""
        return f"{', '.join(self.sm)}{ptx}"


@dataclass(frozen=True, kw_only=True)
class TfRelease:
    minor: str  # "1.15"
    cuda: str
    cudnn: str
    python: tuple[str, ...]
    package: str  # the distribution that carries GPU support
    cpu_package: str  # the distribution of a CPU-only build ("tensorflow-cpu")
    extras: tuple[str, ...]  # ("and-cuda",) when CUDA comes as pip wheels
    bundled: bool
    versions: dict[str, str]  # release -> first upload date
    verified: bool = True


@dataclass(frozen=True, kw_only=True)
class JaxlibBuild:
    """One CUDA build of a jaxlib 0.1.x release (CUDA and cuDNN from the image)."""

    cuda: str  # "10.1"
    tag: str  # "cuda101"
    cudnn: str  # "7.0"
    serves_newer: bool  # the one cuda111 wheel of 0.1.66+ serves CUDA 11.1 and newer
    local: str | None = None  # "+cuda101": installed as jaxlib==V+cuda101 -f find_links
    find_links: str | None = None
    url: str | None = None  # else a wheel URL with {python} ("cp37")

    def wheel_url(self, python: str) -> str | None:
        return self.url.format(python="cp" + python.replace(".", "")) if self.url else None


@dataclass(frozen=True, kw_only=True)
class JaxlibRelease:
    jaxlib: str
    released: str  # ISO date
    python: tuple[str, ...]
    builds: tuple[JaxlibBuild, ...]


@dataclass(frozen=True, kw_only=True)
class JaxBuild:
    extra: str  # "cuda12_pip"
    cuda: str  # built with
    min_cuda: str
    cudnn: str
    bundled: bool
    find_links: str | None


@dataclass(frozen=True, kw_only=True)
class JaxRelease:
    spec: str  # ">=0.4.24,<0.4.26"
    python: tuple[str, ...]
    builds: tuple[JaxBuild, ...]
    verified: bool
    versions: dict[str, str]
    jaxlib_labelled: bool = False  # builds come from the jaxlib release (jaxlib 0.1.x)

    def contains(self, version: str) -> bool:
        try:
            return Version(version) in SpecifierSet(self.spec)
        except (InvalidSpecifier, InvalidVersion):
            return False


@dataclass(frozen=True, kw_only=True)
class CudaPackage:
    """A project named after its CUDA (``cupy-cuda11x``, ``mxnet-cu112``) or built from source."""

    name: str
    family: str
    cuda: tuple[str, ...]  # minors it accepts; empty = any
    bundled: bool
    cudnn: str | None
    source_built: bool
    verified: bool


@dataclass(frozen=True, kw_only=True)
class Fallback:
    """An image used where the ``nvidia/cuda`` tags a framework needs were deleted."""

    image: str
    devel: str | None
    framework: str
    version: str
    cuda: str
    cudnn: str
    python: str
    verified_python: bool
    verified: bool = False  # the tag was seen (else it follows its neighbours' naming)
    ubuntu: str | None = None
    # CUDA and cuDNN in the system library paths: builds of other frameworks that load
    # CUDA from the image can use it (tensorflow/tensorflow; not pytorch/pytorch's conda)
    system_cuda: bool = False
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class UbuntuPython:
    ubuntu: str
    codename: str
    default: str
    distro: tuple[str, ...]
    deadsnakes: tuple[str, ...]
    packages: tuple[str, ...]  # apt packages that set up a Python ("python{v}-venv", ...)
    pip: str  # the requirement the venv's pip is upgraded to ("pip", "pip<21")

    def apt_packages(self, python: str, *, devel: bool) -> tuple[str, ...]:
        """What ``apt-get install`` needs for a venv-capable ``python`` (and its headers)."""
        names = [p.format(v=python) for p in self.packages]
        if devel:
            names.append(f"python{python}-dev")
        return tuple(names)

    def source(self, python: str) -> Literal["apt", "deadsnakes"] | None:
        """Where this Ubuntu gets ``python``: its own archive, deadsnakes, or nowhere."""
        if python in self.distro:
            return "apt"
        if python in self.deadsnakes:
            return "deadsnakes"
        return None


@dataclass(frozen=True, kw_only=True)
class Paddle:
    post: dict[str, str]  # ".postNNN" suffix -> CUDA
    default: str  # CUDA of the plain PyPI wheel before `default_before`
    default_before: str
    cudnn: dict[str, str]  # CUDA major -> cuDNN major
    find_links: str


@dataclass(frozen=True, kw_only=True)
class Compat:
    schema_version: int
    generated: str
    generated_by: str
    python_image: str
    gpu_frameworks: frozenset[str]
    cpu_indexes: dict[str, str]
    default_cuda: str
    families: dict[str, tuple[str, ...]]  # framework -> its distributions (canonical)
    min_drivers: dict[str, str]  # CUDA minor -> driver of its GA
    family_drivers: dict[str, str]  # CUDA major -> minor-version-compatibility floor
    tags: tuple[CudaTag, ...]
    deleted: dict[str, tuple[str, ...]]  # CUDA minor -> example tags that no longer exist
    deleted_date: str
    ubuntu: dict[str, UbuntuPython]
    torch: tuple[TorchRelease, ...]
    torch_companion_local: dict[str, bool]  # whether a companion's line carries +cuXYZ
    torch_arch: tuple[TorchArch, ...]
    tensorflow: tuple[TfRelease, ...]
    tensorflow_gpu_last: str
    jax: tuple[JaxRelease, ...]
    jaxlib: tuple[JaxlibRelease, ...]
    packages: dict[str, CudaPackage]  # canonical name ->
    paddle: Paddle
    fallbacks: tuple[Fallback, ...]

    # ----------------------------------------------------------------- queries

    # The planner asks these hundreds of times per plan: worked out once (the data is
    # frozen; cached_property stores past the frozen dataclass's __setattr__).
    @cached_property
    def _known_minors(self) -> tuple[str, ...]:
        minors = {t.minor for t in self.tags} | set(self.deleted) | set(self.min_drivers)
        return tuple(sorted(minors, key=minor_key))

    @cached_property
    def _tags_by_minor(self) -> dict[str, tuple[CudaTag, ...]]:
        out: dict[str, list[CudaTag]] = {}
        for tag in self.tags:
            out.setdefault(tag.minor, []).append(tag)
        return {m: tuple(sorted(ts, key=CudaTag.sort_key, reverse=True)) for m, ts in out.items()}

    def known_minors(self) -> list[str]:
        """Every CUDA minor the data knows (tags, deleted tags, drivers), oldest first."""
        return list(self._known_minors)

    def tag_minors(self) -> list[str]:
        return sorted(self._tags_by_minor, key=minor_key)

    def tags_for(self, minor: str) -> list[CudaTag]:
        """The existing tags of a CUDA minor, newest patch then newest Ubuntu first."""
        return list(self._tags_by_minor.get(minor, ()))

    def min_driver(self, minor: str) -> str | None:
        return self.min_drivers.get(minor)

    def is_gpu_package(self, name: str) -> bool:
        return canonicalize_name(name) in self.gpu_frameworks

    def family_of(self, name: str) -> str:
        """The framework a GPU distribution belongs to (``torchvision`` -> ``torch``); a
        distribution of no family is its own (``cupy-cuda11x``)."""
        key = canonicalize_name(name)
        return next((f for f, names in self.families.items() if key in names), key)

    def torch_release(self, version: str) -> TorchRelease | None:
        public = version.split("+")[0]
        return next((r for r in self.torch if r.torch == public), None)

    def torch_by_companion(self, name: str, version: str) -> TorchRelease | None:
        public = version.split("+")[0]
        for release in self.torch:
            if getattr(release, name) == public:
                return release
        return None

    def torch_arch_for(self, version: str, cuda: str) -> TorchArch | None:
        """The kernels of torch ``version`` (a local label is ignored) built for ``cuda``."""
        try:
            public = Version(version.split("+")[0])
        except InvalidVersion:
            return None
        for arch in self.torch_arch:
            if arch.cuda == cuda and public in SpecifierSet(arch.torch):
                return arch
        return None

    def first_covering(self, capability: str) -> tuple[str, str] | None:
        """The oldest torch release and CUDA build with kernels for ``capability``."""
        for release in self.torch:
            for build in sorted(release.builds, key=lambda b: minor_key(b.cuda)):
                arch = self.torch_arch_for(release.torch, build.cuda)
                if arch is not None and arch.covers(capability):
                    return release.torch, build.tag
        return None

    def tf_release(self, version: str) -> TfRelease | None:
        minor = minor_of(version)
        return next((r for r in self.tensorflow if r.minor == minor), None)

    def jax_release(self, version: str) -> JaxRelease | None:
        public = version.split("+")[0]
        return next((r for r in self.jax if r.contains(public)), None)

    def off_pypi(self, name: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
        """Releases PyPI no longer has but the data knows, with their date and Pythons:
        torch before 1.0 (download.pytorch.org) and jaxlib 0.1 (JAX's own bucket)."""
        key = canonicalize_name(name)
        if key == "torch":
            return tuple(
                (r.torch, r.released, r.python)
                for r in self.torch
                if r.released and Version(r.torch) < Version("1.0")
            )
        if key == "jaxlib":
            return tuple((r.jaxlib, r.released, r.python) for r in self.jaxlib)
        return ()

    def jaxlib_release(self, version: str) -> JaxlibRelease | None:
        public = version.split("+")[0]
        return next((r for r in self.jaxlib if r.jaxlib == public), None)

    def jaxlib_as_of(self, date: str) -> JaxlibRelease | None:
        """The newest jaxlib 0.1.x released on or before ``date`` (ISO)."""
        out = [r for r in self.jaxlib if r.released <= date]
        return max(out, key=lambda r: Version(r.jaxlib)) if out else None


@cache
def load() -> Compat:
    """The shipped data, checked for the schema this code reads."""
    return parse(datafiles.load("compat.json"))


def parse(data: dict[str, Any]) -> Compat:
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"compat.json has schema {data.get('schema_version')}, this repro reads "
            f"{SCHEMA_VERSION}: regenerate it with scripts/gen_compat.py"
        )
    drivers = data["drivers"]
    nv = data["nvidia_cuda"]
    return Compat(
        schema_version=data["schema_version"],
        generated=data["generated"],
        generated_by=data["generated_by"],
        python_image=data["python_image"],
        gpu_frameworks=frozenset(canonicalize_name(n) for n in data["gpu_frameworks"]),
        cpu_indexes=dict(data["cpu_indexes"]),
        default_cuda=data["policy"]["default_cuda"],
        families={
            k: tuple(canonicalize_name(n) for n in v)
            for k, v in data["policy"]["framework_families"].items()
        },
        min_drivers={m: v["min_driver"] for m, v in drivers["toolkits"].items()},
        family_drivers=dict(drivers["families"]),
        tags=tuple(CudaTag(**t) for t in nv["tags"]),
        deleted={d["cuda"]: tuple(d["examples"]) for d in nv["deleted"]["releases"]},
        deleted_date=nv["deleted"]["date"],
        ubuntu={
            u: UbuntuPython(
                ubuntu=u,
                codename=row["codename"],
                default=row["default"],
                distro=tuple(row["distro"]),
                deadsnakes=tuple(row["deadsnakes"]),
                packages=tuple(row["packages"]),
                pip=row["pip"],
            )
            for u, row in data["ubuntu_python"]["releases"].items()
        },
        torch=tuple(_torch(r) for r in data["torch"]["releases"]),
        torch_companion_local=dict(data["torch"]["companion_local"]),
        torch_arch=tuple(_arch(v) for v in data["torch_arch"]["variants"]),
        tensorflow=tuple(_tf(r) for r in data["tensorflow"]["releases"]),
        tensorflow_gpu_last=data["tensorflow"]["tensorflow_gpu_last"],
        jax=tuple(_jax(r) for r in data["jax"]["releases"]),
        jaxlib=tuple(_jaxlib(r) for r in data["jax"]["jaxlib"]["releases"]),
        packages={
            canonicalize_name(name): CudaPackage(
                name=name,
                family=p["family"],
                cuda=tuple(p["cuda"]),
                bundled=p["bundled"],
                cudnn=p["cudnn"],
                source_built=p.get("source_built", False),
                verified=p["verified"],
            )
            for name, p in data["packages"].items()
        },
        paddle=Paddle(
            post=dict(data["paddle"]["post"]),
            default=data["paddle"]["default"],
            default_before=data["paddle"]["default_before"],
            cudnn=dict(data["paddle"]["cudnn"]),
            find_links=data["paddle"]["find_links"],
        ),
        fallbacks=tuple(
            Fallback(**{**f, "sources": tuple(f.get("sources", ()))})
            for f in data["fallbacks"]["images"]
        ),
    )


def _torch(r: dict[str, Any]) -> TorchRelease:
    return TorchRelease(
        torch=r["torch"],
        torchvision=r["torchvision"],
        torchaudio=r["torchaudio"],
        python=tuple(r["python"]),
        default_cuda=r["default_cuda"],
        released=r["released"],
        builds=tuple(TorchBuild(**b) for b in r["builds"]),
        sources=tuple(r["sources"]),
        verified=r["verified"],
        inherited_from=r.get("inherited_from"),
        wheel=r.get("wheel"),
    )


def _arch(v: dict[str, Any]) -> TorchArch:
    return TorchArch(**{**v, "sm": tuple(v["sm"]), "sources": tuple(v["sources"])})


def _tf(r: dict[str, Any]) -> TfRelease:
    return TfRelease(
        minor=r["minor"],
        cuda=r["cuda"],
        cudnn=r["cudnn"],
        python=tuple(r["python"]),
        package=r["package"],
        cpu_package=r["cpu_package"],
        extras=tuple(r["extras"]),
        bundled=r["bundled"],
        versions=dict(r["versions"]),
        verified=r.get("verified", True),
    )


def _jax(r: dict[str, Any]) -> JaxRelease:
    return JaxRelease(
        spec=r["jax"],
        python=tuple(r["python"]),
        builds=tuple(JaxBuild(**b) for b in r["builds"]),
        verified=r["verified"],
        versions=dict(r["versions"]),
        jaxlib_labelled=r.get("jaxlib_labelled", False),
    )


def _jaxlib(r: dict[str, Any]) -> JaxlibRelease:
    return JaxlibRelease(
        jaxlib=r["jaxlib"],
        released=r["released"],
        python=tuple(r["python"]),
        builds=tuple(JaxlibBuild(**b) for b in r["builds"]),
    )
