"""How the format-1 vectors beside this file were made, at commit 91b9860 (the last format-1 command line).

Kept as a record only: the command line now writes format 2, so running this again would not remake them
(it does nothing on import; run as a script it would only find its outputs already there).
"""
import json, subprocess, sys, hashlib
from pathlib import Path
import numpy as np
from PIL import Image
import imgprivacy as ip
from imgprivacy.cli import main


def make():
    V = Path("tests/vectors/format1")
    orig = V / "originals"
    # small originals: an 8-bit RGB crop of rocket, an 8-bit grey crop of coffee, a 16-bit RGB gradient+noise
    rocket = Image.open("data/examples/rocket.png").convert("RGB").crop((60, 40, 108, 76))  # 48x36
    rocket.save(orig / "rocket_crop.png")
    Image.open("data/examples/coffee.jpg").convert("L").crop((100, 100, 140, 130)).save(orig / "coffee_grey.png")
    rng = np.random.default_rng(12)
    x = np.clip(np.linspace(0, 1, 30*34*3).reshape(30, 34, 3) + 0.05 * rng.standard_normal((30, 34, 3)), 0, 1).astype(np.float32)
    ip.data.write_png(orig / "gradient16.png", x, depth=16)
    key = bytes.fromhex("00112233445566778899aabbccddeeff")
    (V / "test.key").write_text(key.hex() + "\n")
    (V / "test.key").chmod(0o600)
    out = {}
    for depth in (8, 16):
        d = V / f"protected{depth}"
        assert main(["protect", "--key", str(V / "test.key"), "--depth", str(depth), str(orig), "-o", str(d)]) == 0
        r = V / f"recovered{depth}"
        assert main(["recover", "--key", str(V / "test.key"), str(d), "-o", str(r)]) == 0
    for f in sorted(V.rglob("*.png")):
        out[str(f.relative_to(V))] = hashlib.sha256(f.read_bytes()).hexdigest()
    meta = {"source": "written by imgprivacy's command line at commit " + subprocess.check_output(["git", "rev-parse", "HEAD"], text=True).strip() +
            " (format 1, before format 2 existed): `imgprivacy protect --key test.key --depth 8|16 originals -o protectedN`, then "
            "`imgprivacy recover --key test.key protectedN -o recoveredN`; recovery must keep giving these recovered files pixel for pixel",
            "key": key.hex(), "sha256": out}
    (V / "format1.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    make()
