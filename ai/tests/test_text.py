"""French analysis: words whose space was lost at a case change are found again."""

from __future__ import annotations

import pytest

from ai.text import analyze, document_sparse, query_sparse, word_terms


@pytest.mark.parametrize(
    ("glued", "apart"),
    [
        ("duRGPD", "du RGPD"),
        ("LaCommission nationale", "La Commission nationale"),
        ("accès auxDonnées", "accès aux Données"),
        ("leÉtablissement", "le Établissement"),
    ],
)
def test_words_glued_at_a_case_change_are_split(glued, apart):
    assert analyze(glued) == analyze(apart)


@pytest.mark.parametrize("word", ["CNIL", "RGPD", "Données", "délibération", "l'Administration"])
def test_words_without_an_inner_case_change_are_unchanged(word):
    assert analyze(word) == analyze(word.lower())
    assert len(analyze(word)) == 1


def test_a_glued_passage_answers_the_plain_query():
    passage = document_sparse("Depuis l'entrée en application duRèglement européen, le 25 mai")
    query = query_sparse("Règlement européen")
    assert set(query["indices"]) <= set(passage["indices"])


def test_snippet_terms_of_a_glued_word_include_its_parts():
    assert set(analyze("RGPD")) <= word_terms("duRGPD")
