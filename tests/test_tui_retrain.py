"""The app retrains the student in the background once enough documents are complete (a real pilot run, real
spaCy training on a few news sentences)."""

from __future__ import annotations

from pathlib import Path

from studio.store import Store
from studio.tui.app import make_app
from tests.ner_helpers import add_docs, complete_like_gold, news_project, read_news


async def test_app_retrains_the_student_when_enough_documents_are_complete(tmp_path: Path) -> None:
    root = tmp_path / "p"
    with Store.init(root) as store:
        news_project(store)
        gold = read_news("news_en_train", 8)
        ids = add_docs(store, gold)
        for i, d in zip(ids[:5], gold[:5], strict=True):
            complete_like_gold(store, i, d["spans"])
        store.set_setting("student.retrain_every", 5)
        store.set_setting("student.train_args", {"base": "blank", "max_epochs": 2, "patience": 2, "cv_folds": 0})
    app = make_app(root, user="ann", screen="review")
    app.retrain_check_seconds = 3600  # the test calls the check itself (a loaded machine can take 30 s)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()  # the app's warm-up and the screen's first reads
        assert app.check_retrain()  # 5 complete documents, no student yet: retraining starts in a worker
        assert not app.check_retrain()  # one retraining at a time
        await app.workers.wait_for_complete()
        await pilot.pause()
        card = root / "models" / "student" / "card.json"
        assert card.is_file() and app.sub_title == ""  # the progress line is cleared when it ends
        runs = app.store.decisions(action="train.run")
        assert len(runs) == 1 and runs[0].payload["documents"] == 5 and runs[0].actor == "tool"
        assert not app.check_retrain()  # nothing new since
        for i, d in zip(ids[5:], gold[5:], strict=True):
            complete_like_gold(app.store, i, d["spans"], actor="human:ann")
        assert not app.check_retrain()  # 3 new documents: fewer than student.retrain_every
        notices = [n.message for n in app._notifications]
        assert any("Retraining the student: 5 newly complete documents" in m for m in notices)
        assert any(m.startswith("Student retrained on 5 documents: held-out F1") for m in notices)
