"""Exchange formats: exact round trips of the real two-fly labels through a project,
SLEAP .slp, DeepLabCut (CSV + images, read back by us and by sleap-io), LEAP .mat and NWB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sleap_io as sio
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CLIP, CLIP_LABELS, LEAP_MAT, some_frames
from napari_leap.errors import LeapError
from napari_leap.io.labels import load_labels, poses_from_labels, save_labels, skeleton_from_sleap
from napari_leap.io.labels.dlc import SKELETON_KEY, is_dlc_csv, write_dlc_csv
from napari_leap.io.project import Project
from napari_leap.io.project_import import import_into_project
from napari_leap.io.skeleton_files import load_skeleton
from napari_leap.model.skeleton import Skeleton, propose_symmetries


@pytest.fixture(scope="module")
def reference():
    return poses_from_labels(load_labels(CLIP_LABELS))


@pytest.fixture
def project(tmp_path):
    labels = load_labels(CLIP_LABELS)
    skeleton = skeleton_from_sleap(labels.skeletons[0])
    skeleton.symmetries = propose_symmetries(skeleton.nodes)  # the file stores none
    project = Project.create(tmp_path / "proj", skeleton)
    assert import_into_project(project, CLIP_LABELS) == 1500
    return Project.open(project.root)


def _same(a, b):
    assert a.frames.tolist() == b.frames.tolist()
    assert a.tracks == b.tracks
    np.testing.assert_allclose(a.points, b.points, atol=1e-6, rtol=0)
    assert np.array_equal(np.isnan(a.points), np.isnan(b.points))


def test_project_slp_and_dlc_round_trips_are_exact(project, reference, tmp_path):
    in_project = poses_from_labels(project.labels)
    _same(in_project, reference)
    assert project.skeleton.symmetry_names == [
        ("wingL", "wingR"),
        ("forelegL4", "forelegR4"),
        ("midlegL4", "midlegR4"),
        ("hindlegL4", "hindlegR4"),
        ("eyeL", "eyeR"),
    ]

    slp = save_labels(project.labels, tmp_path / "out.slp")
    back = poses_from_labels(load_labels(slp))
    _same(back, reference)
    assert back.skeleton == project.skeleton
    assert back.skeleton.symmetries == project.skeleton.symmetries

    out = save_labels(project.labels, tmp_path / "dlc", images=False, format="dlc")
    csvs = dlc_csvs(out)
    h5 = csvs[0].with_suffix(".h5")  # DLC's trainer reads the .h5 (written via PyTables)
    assert h5.exists()
    for exported in (csvs[0], h5):
        dlc = poses_from_labels(load_labels(exported, format="dlc"))
        _same(dlc, reference)
        assert dlc.skeleton == project.skeleton  # order, edges and pairs via config.yaml/sidecar
        assert dlc.skeleton.symmetries == project.skeleton.symmetries
    config = yaml.safe_load((tmp_path / "dlc" / "config.yaml").read_text())
    assert config["individuals"] == ["female", "male"]
    assert config["multianimalbodyparts"] == project.skeleton.nodes
    assert config[SKELETON_KEY]["symmetries"][0] == ["wingL", "wingR"]


def test_dlc_images_are_read_by_sleap_io(project, reference, tmp_path):
    frames = [0, 3, 700, 1100, 1250, 1499]
    out = save_labels(project.labels, tmp_path / "dlc", frames={0: frames}, format="dlc")
    csvs = dlc_csvs(out)
    folder = csvs[0].parent
    assert sorted(p.name for p in folder.glob("*.png")) == [f"img{f:04d}.png" for f in frames]
    # DeepLabCut's own CSV layout: 4 header rows, 3 index columns
    head = csvs[0].read_text().splitlines()[:5]
    assert [h.split(",")[0] for h in head] == [
        "scorer",
        "individuals",
        "bodyparts",
        "coords",
        "labeled-data",
    ]
    theirs = sio.load_dlc(str(csvs[0]))  # sleap-io finds the frames through the image names
    assert len(theirs.labeled_frames) == len(frames)
    for lf in sorted(theirs.labeled_frames, key=lambda lf: lf.frame_idx):
        f = frames[lf.frame_idx]
        assert lf.image.shape[:2] == (1024, 1024)
        by_track = {i.track.name: i.numpy() for i in lf.instances}
        names = list(theirs.skeletons[0].node_names)  # sleap-io sorts DLC body parts by name
        row = int(np.searchsorted(reference.frames, f))
        for a, track in enumerate(reference.tracks):
            for k, node in enumerate(reference.skeleton.nodes):
                np.testing.assert_allclose(
                    by_track[track][names.index(node)], reference.points[row, a, k], atol=1e-6
                )
    ours = poses_from_labels(load_labels(csvs[0], format="dlc"))
    _same(ours, reference.select(np.isin(reference.frames, frames)))


def test_dlc_png_frames_are_the_video_frames(project, tmp_path):
    import cv2

    from napari_leap.io.video import video_source

    out = save_labels(project.labels, tmp_path / "dlc", frames={0: [5, 900]}, format="dlc")
    csvs = dlc_csvs(out)
    src = video_source(CLIP)
    for f in (5, 900):
        png = cv2.imread(str(csvs[0].parent / f"img{f:04d}.png"), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(png, src.read(f)[..., 0])  # lossless


def _dlc_folder(folder, sizes):
    """DLC's labeled-data folder without its video: some frames, named by frame number."""
    import cv2

    from napari_leap.model.poses import Poses

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    images, numbers = [], [5, 20, 108]
    for f, (h, w) in zip(numbers, sizes, strict=True):
        images.append(rng.integers(0, 255, (h, w), dtype=np.uint8))
        cv2.imwrite(str(folder / f"img{f:03d}.png"), images[-1])
    points = rng.uniform(5, 60, (3, 1, 2, 2))
    scores = np.full((3, 1, 2), np.nan)
    poses = Poses(np.array(numbers), points, scores, ["animal"], Skeleton(["snout", "tailbase"]))
    csv = write_dlc_csv(
        poses, folder / "CollectedData_me.csv", video_name="v", scorer="me", tracked=False
    )
    for side in folder.glob("*.skeleton.yaml"):
        side.unlink()  # as DLC leaves it: no video named anywhere
    return csv, images, points


def test_dlc_frames_without_their_video_read_their_own_images(tmp_path):
    """Frame i of the labels is the folder's i-th image, whatever its number or size.

    DLC keeps only the labelled frames, so img020.png is the second image there; reading
    frame 20 of the folder gave another image's pixels with these labels.
    """
    from napari_leap.io.video import video_source
    from napari_leap.pose.dataset import load_training_data
    from napari_leap.pose.dataset.data import DataOptions
    from napari_leap.pose.predict.jobs import jobs_from_inputs

    csv, images, points = _dlc_folder(tmp_path / "v", [(64, 80), (48, 72), (64, 80)])
    poses = poses_from_labels(load_labels(csv))
    assert poses.frames.tolist() == [0, 1, 2]
    np.testing.assert_allclose(poses.points, points, atol=1e-3)
    source = video_source(tmp_path / "v")
    assert source.shape == (3, 64, 80, 1) and source.sizes == [(48, 72), (64, 80)]
    for i, image in enumerate(images):
        frame = source.read(i)[..., 0]
        assert np.array_equal(frame[: image.shape[0], : image.shape[1]], image)
        assert not frame[image.shape[0] :].any() and not frame[:, image.shape[1] :].any()
    data = load_training_data(csv, DataOptions(align="none"))
    assert np.array_equal(data.images[1, :48, :72, 0], images[1])
    (job,) = jobs_from_inputs(csv)[0]  # predict takes the CSV as it takes any labels file
    assert job.frames.tolist() == [0, 1, 2] and job.align_subset  # frames of unknown times
    assert np.array_equal(job.source.read(2)[..., 0], images[2])


def test_dlc_frames_without_their_video_are_saved_under_their_own_names(tmp_path):
    """Labels read from a labelled-data folder keep each image's name when saved again.

    Rows were named by their place in the folder (img000.png for img005.png): a project
    written from them named images that do not exist, and a layer saved into its own
    folder added img000-img002.png beside the originals, which shifted every image's
    place, so on reading the folder again the labels lay on other images.
    """
    import cv2

    from napari_leap.napari import labels_io, writer
    from napari_leap.pose.dataset import load_training_data
    from napari_leap.pose.dataset.data import DataOptions

    names = ["img005.png", "img020.png", "img108.png"]
    csv, images, points = _dlc_folder(tmp_path / "v", [(64, 80), (48, 72), (64, 80)])
    (written,) = dlc_csvs(save_labels(load_labels(csv), tmp_path / "project", format="dlc"))
    assert [row.split(",")[2] for row in written.read_text().splitlines()[3:]] == names
    for name, image in zip(names, images, strict=True):  # copied as they were, not padded
        assert np.array_equal(cv2.imread(str(written.parent / name), cv2.IMREAD_GRAYSCALE), image)
    np.testing.assert_allclose(poses_from_labels(load_labels(written)).points, points, atol=1e-3)
    flat = save_labels(load_labels(csv), tmp_path / "flat.csv")  # sleap-io's CSV (predict --out)
    rows = [row.split(",")[0] for row in flat.read_text().splitlines()[3:]]
    assert rows == [f"labeled-data/v/{name}" for name in names]

    (data, kwargs, _) = [layer for layer in labels_io.read_labels(csv) if layer[2] == "points"][0]
    attrs = {"metadata": kwargs["metadata"], "features": kwargs["features"]}
    writer.write_points(str(csv), data, attrs)  # the layer saved over the CSV it came from
    assert sorted(p.name for p in csv.parent.glob("*.png")) == names
    again = load_labels(csv)
    np.testing.assert_allclose(poses_from_labels(again).points, points, atol=1e-3)
    frames = load_training_data(csv, DataOptions(align="none")).images
    assert np.array_equal(frames[1, :48, :72, 0], images[1])


def _instances(labels):
    return np.stack([i.numpy() for lf in labels.labeled_frames for i in lf.instances])


def test_coco_keypoints_come_with_their_images(tmp_path):
    """A COCO file names images that exist, with their sizes, read back to the same points.

    sleap-io named a video's frames clip_frame_000005.png without writing them, with width
    and height 0, and a folder's images by their bare names: files pointing at nothing.
    """
    import json

    import cv2

    from napari_leap.io.video import video_source

    video_labels = some_frames(CLIP_LABELS, [5, 900])
    out = save_labels(video_labels, tmp_path / "coco" / "clip.json")
    entries = json.loads(out.read_text())["images"]
    assert [e["file_name"] for e in entries] == [
        "clip_images/clip/img005.png",
        "clip_images/clip/img900.png",
    ]
    src = video_source(CLIP)
    for entry, f in zip(entries, (5, 900), strict=True):
        assert (entry["width"], entry["height"]) == (1024, 1024)
        png = cv2.imread(str(out.parent / entry["file_name"]), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(png, src.read(f)[..., 0])  # lossless
    np.testing.assert_allclose(_instances(load_labels(out)), _instances(video_labels), atol=1e-3)

    csv, images, points = _dlc_folder(tmp_path / "v", [(64, 80), (48, 72), (64, 80)])
    out = save_labels(load_labels(csv), tmp_path / "dlc.json")  # images of a folder stay put
    entries = json.loads(out.read_text())["images"]
    assert [e["file_name"] for e in entries] == ["v/img005.png", "v/img020.png", "v/img108.png"]
    assert [(e["height"], e["width"]) for e in entries] == [i.shape for i in images]
    assert not (tmp_path / "dlc_images").exists()
    back = load_labels(out)  # sleap-io makes a video of each image size
    by_name = {
        Path(lf.video.filename[lf.frame_idx]).name: lf.instances[0].numpy()
        for lf in back.labeled_frames
    }
    for name, p in zip(["img005.png", "img020.png", "img108.png"], points[:, 0], strict=True):
        np.testing.assert_allclose(by_name[name], p, atol=1e-3)
    from napari_leap.napari import labels_io, reader  # dropped on napari: images under points

    assert reader.get_reader(str(out)) is reader.read_labels
    (tmp_path / "other.json").write_text('{"images": [], "categories": [{"name": "cell"}]}')
    assert reader.get_reader(str(tmp_path / "other.json")) is None  # another tool's JSON

    shown = [layer for layer in labels_io.read_labels(out) if layer[2] == "image"]
    assert {tuple(data.shape) for data, _, _ in shown} == {(2, 64, 80), (1, 48, 72)}
    assert any(np.array_equal(np.asarray(data[0]), images[1]) for data, _, _ in shown)


def test_a_package_is_written_with_its_embedded_images(tmp_path):
    """A .pkg.slp (images embedded, no video) saved as a DeepLabCut project or COCO: its
    frames were read as a video by FFmpeg, which stopped with "not a video", after the
    CSV had been written; its layer saved as a DLC CSV in napari wrote no image at all, and
    saved as .slp it named its video "unknown.mp4"."""
    import json

    import cv2

    package = tmp_path / "flies.pkg.slp"
    some_frames(CLIP_LABELS, [5, 900]).save(str(package), embed="user", verbose=False)
    labels = load_labels(package)
    expected = {f: np.asarray(labels.videos[0][f])[..., 0] for f in (5, 900)}
    (csv,) = dlc_csvs(save_labels(labels, tmp_path / "dlc", format="dlc"))
    for f, image in expected.items():
        assert np.array_equal(
            cv2.imread(str(csv.parent / f"img{f:03d}.png"), cv2.IMREAD_UNCHANGED), image
        )
    out = save_labels(labels, tmp_path / "flies.json")
    for entry, (f, image) in zip(
        json.loads(out.read_text())["images"], expected.items(), strict=True
    ):
        png = cv2.imread(str(tmp_path / entry["file_name"]), cv2.IMREAD_UNCHANGED)
        assert entry["file_name"] == f"flies_images/flies/img{f:03d}.png"
        assert np.array_equal(png, image)
    from napari_leap.napari import labels_io, writer  # the layer saved as a DLC CSV in napari

    (data, kwargs, _) = [layer for layer in labels_io.read_labels(package) if layer[2] == "points"][
        0
    ]
    saved = tmp_path / "layer" / "CollectedData_me.csv"
    writer.write_points(
        str(saved), data, {"metadata": kwargs["metadata"], "features": kwargs["features"]}
    )
    for f, image in expected.items():
        png = cv2.imread(str(saved.parent / f"img{f:03d}.png"), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(png, image)
    again = tmp_path / "layer.slp"  # saved as .slp: its images go with it, not "unknown.mp4"
    writer.write_points(
        str(again), data, {"metadata": kwargs["metadata"], "features": kwargs["features"]}
    )
    video = load_labels(again).videos[0]
    for f, image in expected.items():
        assert np.array_equal(np.asarray(video[f])[..., 0], image)


def test_a_deeplabcut_project_is_read_whole(tmp_path):
    """A DLC user points at the project (its folder or config.yaml): every labeled-data
    folder's labels, a video each, the body parts in config.yaml's order; a labeled-data
    folder alone gives its own CSV. sleap-io's reading of config.yaml sorted the parts by
    name and greyed colour images."""
    from napari_leap.pose.dataset import load_training_data
    from napari_leap.pose.predict.jobs import jobs_from_inputs

    root = tmp_path / "reach-me-2026"
    csv_a, images_a, points_a = _dlc_folder(root / "labeled-data" / "a", [(64, 80)] * 3)
    csv_b, _, points_b = _dlc_folder(root / "labeled-data" / "b", [(48, 72), (64, 80), (64, 80)])
    (root / "labeled-data" / "c").mkdir()  # frames extracted, none labelled yet
    config = {"Task": "reach", "scorer": "me", "bodyparts": ["tailbase", "snout"]}
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    for path in (root, root / "config.yaml"):
        labels = load_labels(path)
        assert labels.skeletons[0].node_names == ["tailbase", "snout"]
        assert [len(labels.find(v)) for v in labels.videos] == [3, 3]
        poses = poses_from_labels(labels, video=1)
        np.testing.assert_allclose(poses.points, points_b[..., ::-1, :], atol=1e-3)
    data = load_training_data(root)
    assert len(data) == 6 and data.images.shape[1:] == (64, 80, 1)
    assert np.array_equal(data.images[0, ..., 0], images_a[0])
    jobs = jobs_from_inputs(root)[0]  # predict takes the project's frames as a labels file
    assert [j.frames.tolist() for j in jobs] == [[0, 1, 2], [0, 1, 2]]
    alone = poses_from_labels(load_labels(root / "labeled-data" / "a"))
    np.testing.assert_allclose(alone.points, points_a[..., ::-1, :], atol=1e-3)  # config order
    with pytest.raises(LeapError, match="labeled-data folder"):
        load_labels(root / "labeled-data" / "c")
    (csv_b.parent / "CollectedData_you.csv").write_text(csv_b.read_text())
    with pytest.raises(LeapError, match="labels of 2 scorers"):
        load_labels(root)
    empty = tmp_path / "empty"
    (empty / "labeled-data" / "x").mkdir(parents=True)
    (empty / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(LeapError, match="has no labelled frames"):
        load_labels(empty)


def test_predict_reads_the_images_a_labels_file_lists(tmp_path):
    """SLEAP files of labelled image folders and COCO files list their images: predict
    stopped with a TypeError (a list is not a path) where train read them."""
    import cv2

    from napari_leap.io.video import VideoError
    from napari_leap.pose.predict.jobs import jobs_from_inputs

    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, hw, dtype=np.uint8) for hw in [(40, 60), (50, 70), (40, 60)]]
    files = [tmp_path / "imgs" / f"frame_{n}.png" for n in (9, 10, 8)]  # not the folder's order
    files[0].parent.mkdir()
    for f, image in zip(files, images, strict=True):
        cv2.imwrite(str(f), image)
    sk = sio.Skeleton(["snout", "tailbase"])
    video = sio.Video.from_filename([str(f) for f in files])
    frames = [
        sio.LabeledFrame(video, i, [sio.Instance.from_numpy(np.array([[5.0, 5], [20, 30]]), sk)])
        for i in range(3)
    ]
    path = tmp_path / "labels.slp"
    sio.Labels(labeled_frames=frames, videos=[video], skeletons=[sk]).save(str(path))
    (job,) = jobs_from_inputs(path)[0]
    assert job.frames.tolist() == [0, 1, 2] and job.align_subset and job.name == "imgs"
    for i, image in enumerate(images):
        frame = job.source.read(i)[..., 0]
        assert np.array_equal(frame[: image.shape[0], : image.shape[1]], image)
    files[1].unlink()
    with pytest.raises(VideoError, match="1 of the labels' 3 images are missing"):
        jobs_from_inputs(path)


def test_single_animal_dlc_and_leap_mat(tmp_path):
    labels = load_labels(LEAP_MAT)
    poses = poses_from_labels(labels)
    assert poses.skeleton.nodes == ["head", "neck", "tailBase", "tailTip", "earL", "earR"]
    assert len(poses.frames) > 0 and poses.n_animals == 1
    csv = write_dlc_csv(
        poses, tmp_path / "CollectedData_me.csv", video_name="cat", scorer="me", tracked=False
    )
    assert csv.read_text().splitlines()[1].startswith("bodyparts")  # single-animal layout
    back = load_labels(csv, format="dlc")
    assert not back.tracks
    _same(poses_from_labels(back), poses)
    assert load_skeleton(csv) == poses.skeleton
    assert load_labels(csv).skeletons[0].node_names == poses.skeleton.nodes


def test_nwb_round_trip(reference, tmp_path):
    from napari_leap.io.labels import labels_from_poses

    sub = reference.select(slice(0, 8))
    labels = labels_from_poses(sub, [str(CLIP)], predicted=False)
    save_labels(labels, tmp_path / "x.nwb")
    back = poses_from_labels(load_labels(tmp_path / "x.nwb"))
    assert back.skeleton.nodes == sub.skeleton.nodes
    assert back.frames.tolist() == sub.frames.tolist()
    np.testing.assert_allclose(back.points, sub.points, atol=1e-6)  # NWB keeps instance order


def test_import_refuses_a_foreign_skeleton(tmp_path):
    project = Project.create(tmp_path / "p", Skeleton(["head", "tail"]))
    before = (project.root / "napari-leap.yaml").read_bytes()
    with pytest.raises(LeapError, match="body parts the project lacks"):
        import_into_project(project, CLIP_LABELS)
    assert (project.root / "napari-leap.yaml").read_bytes() == before
    assert not project.labels_path.exists()


def test_not_dlc(tmp_path):
    bad = tmp_path / "CollectedData_x.csv"
    bad.write_text("a,b\n1,2\n")
    assert not is_dlc_csv(bad)
    with pytest.raises(LeapError):
        load_labels(bad, format="dlc")


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzLR_0123456789", min_size=1, max_size=8)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    nodes=st.lists(names, min_size=1, max_size=5, unique=True),
    tracks=st.lists(names, min_size=1, max_size=3, unique=True),
    frames=st.lists(st.integers(0, 99_999), min_size=1, max_size=6, unique=True),
    seed=st.integers(0, 2**31 - 1),
    tracked=st.booleans(),
)
def test_dlc_round_trip_property(tmp_path_factory, nodes, tracks, frames, seed, tracked):
    """Any body-part names, animals, frame numbers and missing points survive DLC exactly."""
    from napari_leap.model.poses import Poses

    if not tracked:
        tracks = tracks[:1]
    rng = np.random.default_rng(seed)
    frames = np.sort(np.asarray(frames, dtype=np.int64))
    points = rng.uniform(-5, 2000, (len(frames), len(tracks), len(nodes), 2))
    points[rng.random(points.shape[:3]) < 0.3] = np.nan
    points[:, :, 0] = rng.uniform(0, 100, (len(frames), len(tracks), 2))  # every row has a point
    skeleton = Skeleton(
        nodes, edges=[(0, i) for i in range(1, len(nodes))], symmetries=propose_symmetries(nodes)
    )
    poses = Poses(frames, points, np.full(points.shape[:3], np.nan), list(tracks), skeleton)
    folder = tmp_path_factory.mktemp("dlc")
    csv = write_dlc_csv(
        poses,
        folder / "CollectedData_x.csv",
        video_name="v",
        scorer="x",
        tracked=tracked,
        n_frames=100_000,
    )
    back = poses_from_labels(load_labels(csv, format="dlc"))
    assert back.frames.tolist() == frames.tolist()
    assert back.skeleton == skeleton and back.skeleton.symmetries == skeleton.symmetries
    np.testing.assert_array_equal(back.points, points)  # bit-exact: CSV keeps repr precision
    assert back.tracks == (list(tracks) if tracked else ["animal0"])


def dlc_csvs(folder):
    """The CollectedData CSVs of a DeepLabCut project folder, one per video."""
    return sorted(folder.glob("labeled-data/*/CollectedData_*.csv"))
