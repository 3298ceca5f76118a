"""A finished production's download carries its contributions as C2PA ingredients."""

from __future__ import annotations

import io

from hitrack.provenance import read_credentials
from hitrack.provenance.c2pa_io import ProvenanceSigner
from hitrack.provenance.identity import generate_identity
from hitrack.services import productions, provenance
from hitrack.services.demo import tone_wav
from hitrack.services.productions import ContributionInput
from tests.factories import WAV, make_creator, make_record


def test_a_production_download_names_each_contribution_with_its_share(db, storage):
    identity = generate_identity()
    signer = ProvenanceSigner(identity.certificate_chain, identity.private_key)
    cello, sketch = make_creator(db, "Cello"), make_creator(db, "Sketch")
    dana = make_creator(db, "Dana")
    line = make_record(db, storage, cello, "Cello line", data=WAV)
    cover = make_record(db, storage, sketch, "Cover sketch")
    production = productions.create_production(
        db,
        dana,
        title="Night Swim",
        contributions=[
            ContributionInput(line.public_id, "0.3"),
            ContributionInput(cover.public_id, "0.1"),
        ],
        storage=storage,
        stream=io.BytesIO(tone_wav(seconds=0.1)),
        filename="night-swim.wav",
        max_bytes=10**7,
    )

    signed = provenance.signed_download(
        db, storage, signer, production, base_url="https://hitrack.test"
    )
    assert signed is not None
    with storage.open(signed.key) as stream:
        data = stream.read()
    report = read_credentials(io.BytesIO(data), "audio/wav", trust_anchors=identity.trust_anchor)
    assert report.state == "Trusted" and report.title == "Night Swim"
    assert report.subject_work_id == production.public_id
    assert sorted((c.work_id, c.relationship, c.share) for c in report.ingredients) == sorted(
        [(line.public_id, "componentOf", "0.3"), (cover.public_id, "componentOf", "0.1")]
    )
    subject = provenance.subject_for(db, production, base_url="https://hitrack.test")
    assert subject.retained == "0.6"
    assert [c["handle"] for i in subject.ingredients for c in i.credits] == [
        cello.handle,
        sketch.handle,
    ]
