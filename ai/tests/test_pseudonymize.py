"""Pseudonymisation before an external model call, with the real spaCy French model.

Every person, address and number here is fictitious; the NIRs get their key from stdnum.
"""

from __future__ import annotations

import itertools
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from stdnum.fr import nir

from ai import pseudonymize
from ai.pseudonymize import Pseudonymizer, StreamRestorer

NIR = "1 85 05 78 006 084 " + nir.calc_check_digits("1850578006084")
NIR_CORSICA = "2 85 05 2A 006 084 " + nir.calc_check_digits("285052A006084")
IBAN_FR = "FR76 3000 6000 0112 3456 7890 189"
IBAN_DE = "DE89370400440532013000"
EMAIL = "claire.dubois@exemple.fr"
PHONE = "06 12 34 56 78"

DOSSIER = (
    "Claire Dubois-Martin, agente au service État civil, a écrit à Jean-Pierre Lefèvre le "
    f"12/03/2024. Joignable au {PHONE} ou par courriel à {EMAIL}. Son IBAN : {IBAN_FR} ; "
    f"numéro de sécurité sociale {NIR}. Mme Dubois-Martin a rappelé Jean-Pierre Lefèvre."
)


@pytest.fixture(scope="module")
def ner_load_seconds():
    start = time.perf_counter()
    assert pseudonymize.preload(), "fr_core_news_sm should be installed with the project"
    return time.perf_counter() - start


def test_model_load_and_processing_time(ner_load_seconds, capsys):
    passage = (DOSSIER + " ") * 5
    passage = passage[:2000]
    start = time.perf_counter()
    Pseudonymizer().pseudonymize(passage)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(5):
        Pseudonymizer().pseudonymize(passage)
    average = (time.perf_counter() - start) / 5
    with capsys.disabled():
        print(
            f"\npseudonymisation: model load {ner_load_seconds:.2f} s, 2,000 characters "
            f"{first * 1000:.0f} ms first, {average * 1000:.0f} ms on average"
        )
    assert average < 2.0


def test_each_kind_is_replaced_and_restored_exactly():
    p = Pseudonymizer()
    out = p.pseudonymize(DOSSIER)

    for original in (
        "Claire",
        "Dubois",
        "Lefèvre",
        "Jean-Pierre",
        EMAIL,
        PHONE,
        IBAN_FR,
        "3000 6000",
        NIR,
        NIR.replace(" ", ""),
    ):
        assert original not in out
    for placeholder in (
        "[PERSONNE_1]",
        "[PERSONNE_2]",
        "[EMAIL_1]",
        "[TELEPHONE_1]",
        "[IBAN_1]",
        "[NIR_1]",
    ):
        assert placeholder in out
    assert "12/03/2024" in out
    assert "service État civil" in out
    assert p.counts == {"person": 2, "email": 1, "phone": 1, "iban": 1, "nir": 1}
    assert p.mapping["[EMAIL_1]"] == EMAIL
    # « Mme Dubois-Martin » joins « Claire Dubois-Martin »: restored in its full form.
    assert p.restore(out) == DOSSIER.replace("Mme Dubois-Martin", "Mme Claire Dubois-Martin")


def test_restore_gives_back_the_exact_original():
    text = (
        "Réponse de M. Jean-Pierre Lefèvre (jp.lefevre@exemple.fr, +33 6 12 34 56 78) à "
        f"Claire Dubois-Martin : virement sur {IBAN_DE}, NIR {NIR_CORSICA}."
    )
    p = Pseudonymizer()
    out = p.pseudonymize(text)
    assert "Lefèvre" not in out and "Dubois" not in out and "2A" not in out
    assert p.counts == {"person": 2, "email": 1, "phone": 1, "iban": 1, "nir": 1}
    assert p.restore(out) == text


def test_same_value_gets_the_same_placeholder_across_texts():
    p = Pseudonymizer()
    question = p.pseudonymize(f"Quel est le rôle de Claire Dubois-Martin ({EMAIL}) ?")
    passage_1 = p.pseudonymize(f"Claire Dubois-Martin répond au {PHONE}. Écrire à {EMAIL}.")
    passage_2 = p.pseudonymize("Standard : 06.12.34.56.78 ou 0612345678, Jean-Pierre Lefèvre.")

    assert question == "Quel est le rôle de [PERSONNE_1] ([EMAIL_1]) ?"
    assert passage_1 == "[PERSONNE_1] répond au [TELEPHONE_1]. Écrire à [EMAIL_1]."
    # The same number written three ways is one phone; restored in its first form.
    assert passage_2 == "Standard : [TELEPHONE_1] ou [TELEPHONE_1], [PERSONNE_2]."
    assert p.counts["phone"] == 1
    assert p.mapping["[TELEPHONE_1]"] == PHONE


def test_surname_alone_after_the_full_name_is_the_same_person():
    p = Pseudonymizer()
    out = p.pseudonymize(
        "Claire Martin dirige le pôle. Mme Martin a présenté le bilan. Selon Martin, "
        "le budget est tenu. Martin ajoute que Paul Garnier est d'accord."
    )
    assert "Martin" not in out and "Garnier" not in out
    assert out.count("[PERSONNE_1]") == 4
    assert "Mme [PERSONNE_1] a présenté" in out
    assert p.counts["person"] == 2


def test_title_led_names_are_caught():
    p = Pseudonymizer()
    out = p.pseudonymize(
        "Étaient présents : M. Aurélien Kerbrat, Mme Nadia Oukaci, Dr Tran, "
        "Maître Vasseur-Lainé et Monsieur de Montaigu."
    )
    for name in ("Kerbrat", "Oukaci", "Tran", "Vasseur-Lainé", "Montaigu"):
        assert name not in out
    assert out.startswith("Étaient présents : M. [PERSONNE_")
    assert "Dr [PERSONNE_" in out


def test_functions_and_institutions_are_kept():
    text = (
        "Monsieur le Maire ouvre la séance du Conseil municipal. Madame la Première adjointe, "
        "Monsieur l'Adjoint aux finances et Madame la Directrice générale des services sont "
        "présents. Le Maire donne la parole au Président de la commission. Monsieur Le Maire "
        "remercie Mesdames et Messieurs les conseillers."
    )
    assert Pseudonymizer().pseudonymize(text) == text


def test_monsieur_le_maire_is_kept_beside_a_name():
    p = Pseudonymizer()
    out = p.pseudonymize("Monsieur le Maire a reçu Jean-Pierre Lefèvre en mairie.")
    assert out == "Monsieur le Maire a reçu [PERSONNE_1] en mairie."


def test_numbers_that_are_not_personal_data_are_kept():
    text = (
        "Délibération D2024-0345 du 12/03/2024 (séance du 2024-03-12 à 18:30) : montant de "
        "1 250 000 € TTC, dont 250 000,00 € en 2025 ; subvention de 12 500 €. Association "
        "SIRET 732 829 320 00074, SIREN 732829320, 12 rue Francis de Pressensé, 69100 "
        "Villeurbanne, BP 5051. Marché n° 2024-015-0042, article L. 2121-29 du CGCT, "
        "acte 069-216902648-20240312-D2024-0345-DE, 49 voix pour, 4 abstentions. "
        "Compte FR76 3000 6000 0112 3456 7890 188 (clé fausse), n° 1 85 05 78 006 084 00."
    )
    p = Pseudonymizer()
    assert p.pseudonymize(text) == text
    assert p.counts == {"person": 0, "email": 0, "phone": 0, "iban": 0, "nir": 0}


def test_places_named_after_people_are_kept():
    text = "Rendez-vous rue Jean-Jaurès, au gymnase Jean Moulin puis à l'école Anatole France."
    assert Pseudonymizer().pseudonymize(text) == text


@pytest.mark.parametrize(
    "phone",
    [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "0612345678",
        "+33 6 12 34 56 78",
        "+33612345678",
        "+33 (0)1 42 76 40 40",
        "0033 1 42 76 40 40",
        "01 42 76 40 40",
    ],
)
def test_phone_formats(phone):
    p = Pseudonymizer(names=False)
    out = p.pseudonymize(f"Tél. : {phone}, du lundi au vendredi.")
    assert out == "Tél. : [TELEPHONE_1], du lundi au vendredi."
    assert p.restore(out) == f"Tél. : {phone}, du lundi au vendredi."


@pytest.mark.parametrize(
    ("iban", "after"),
    [
        (IBAN_FR, ""),
        (IBAN_FR.replace(" ", ""), ""),
        (IBAN_FR, " EUR"),
        (IBAN_DE, ""),
        ("DE89 3704 0044 0532 0130 00", " (Allemagne)"),
        ("BE71 0961 2345 6769", "."),
    ],
)
def test_iban_formats(iban, after):
    p = Pseudonymizer(names=False)
    out = p.pseudonymize(f"IBAN : {iban}{after}")
    assert out == f"IBAN : [IBAN_1]{after}"
    assert p.mapping == {"[IBAN_1]": iban}


@pytest.mark.parametrize("value", [NIR, NIR.replace(" ", ""), NIR_CORSICA, NIR.replace(" ", ".")])
def test_nir_formats(value):
    p = Pseudonymizer(names=False)
    assert p.pseudonymize(f"N° INSEE {value} ;") == "N° INSEE [NIR_1] ;"
    assert p.mapping == {"[NIR_1]": value}


def test_email_is_replaced_whole_before_the_names():
    p = Pseudonymizer()
    out = p.pseudonymize("Écrire à Claire.Dubois-Martin@exemple.fr ou à Claire Dubois-Martin.")
    assert out == "Écrire à [EMAIL_1] ou à [PERSONNE_1]."


def test_names_can_be_left_alone():
    p = Pseudonymizer(names=False)
    out = p.pseudonymize(DOSSIER)
    assert "Claire Dubois-Martin" in out and "Jean-Pierre Lefèvre" in out
    assert EMAIL not in out and PHONE not in out
    assert p.counts["person"] == 0


# --- restoration of what the model wrote ---------------------------------------------------


@pytest.fixture
def known() -> Pseudonymizer:
    p = Pseudonymizer()
    p.pseudonymize(f"Claire Dubois-Martin, {PHONE}, et Jean-Pierre Lefèvre, {EMAIL}.")
    assert p.mapping == {
        "[PERSONNE_1]": "Claire Dubois-Martin",
        "[PERSONNE_2]": "Jean-Pierre Lefèvre",
        "[TELEPHONE_1]": PHONE,
        "[EMAIL_1]": EMAIL,
    }
    return p


@pytest.mark.parametrize(
    ("answer", "restored"),
    [
        ("[PERSONNE_1] et [PERSONNE_2].", "Claire Dubois-Martin et Jean-Pierre Lefèvre."),
        ("[personne_1] ([Personne_2])", "Claire Dubois-Martin (Jean-Pierre Lefèvre)"),
        ("Voir [ PERSONNE_1 ], tél. [TELEPHONE_1].", f"Voir Claire Dubois-Martin, tél. {PHONE}."),
        ("PERSONNE_1 a écrit à PERSONNE_2.", "Claire Dubois-Martin a écrit à Jean-Pierre Lefèvre."),
        (r"\[PERSONNE\_1\] : \[EMAIL\_1\]", f"Claire Dubois-Martin : {EMAIL}"),
        ("[TÉLÉPHONE_1]", PHONE),
        ("**[PERSONNE_1]**", "**Claire Dubois-Martin**"),
        # Unknown or look-alike tokens are left as they are.
        ("[PERSONNE_3], [IBAN_1]", "[PERSONNE_3], [IBAN_1]"),
        ("PERSONNE_12 XPERSONNE_1 PERSONNE_1x", "PERSONNE_12 XPERSONNE_1 PERSONNE_1x"),
        ("PERSONNE 1, [PERSONNE]", "PERSONNE 1, [PERSONNE]"),
    ],
)
def test_restore_copes_with_altered_placeholders(known, answer, restored):
    assert known.restore(answer) == restored


ANSWER = (
    "[PERSONNE_1] peut joindre [ PERSONNE_2 ] au [TELEPHONE_1] ; PERSONNE_2 répond par "
    r"\[EMAIL\_1\]. Voir [la note](https://exemple.fr/[x]) — [TÉLÉPHONE_1], "
    "PERSONNE_12, [PERSONNE_3] et [personne_1]"
)


def _stream(restorer: StreamRestorer, deltas: list[str]) -> str:
    return "".join(restorer.feed(d) for d in deltas) + restorer.flush()


def test_stream_restoration_with_every_split_in_two_and_three(known):
    whole = known.restore(ANSWER)
    assert "Claire Dubois-Martin" in whole and "PERSONNE_12" in whole
    n = len(ANSWER)
    for i in range(n + 1):
        assert _stream(known.restorer(), [ANSWER[:i], ANSWER[i:]]) == whole, i
    # Three pieces with both cuts inside any one placeholder (the longest here is 14 chars).
    for i, j in itertools.combinations(range(1, n), 2):
        if j - i <= 15:
            deltas = [ANSWER[:i], ANSWER[i:j], ANSWER[j:]]
            assert _stream(known.restorer(), deltas) == whole, (i, j)


def test_stream_restoration_character_by_character(known):
    assert _stream(known.restorer(), list(ANSWER)) == known.restore(ANSWER)


def test_stream_holds_back_only_what_could_be_a_placeholder(known):
    restorer = known.restorer()
    assert restorer.feed("Bonjour [PERS") == "Bonjour "
    assert restorer.feed("ONNE_1") == ""
    assert restorer.feed("], voici ") == "Claire Dubois-Martin, voici "
    assert restorer.feed("la liste [a") == "la liste [a"
    assert restorer.feed(" jour] PERSONNE_2") == " jour] "
    assert restorer.feed(".") == "Jean-Pierre Lefèvre."
    assert restorer.feed(" [TEL") == " "
    assert restorer.flush() == "[TEL"


# --- robustness ----------------------------------------------------------------------------


def test_concurrent_use_from_several_threads():
    texts = [DOSSIER.replace("Lefèvre", name) for name in ("Lefèvre", "Garnier", "Oukaci")] * 4
    expected = [Pseudonymizer().pseudonymize(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda t: Pseudonymizer().pseudonymize(t), texts))
    assert results == expected


def test_names_listed_on_separate_lines():
    text = "Participants :\n- Jean Dupont\n- Marie Lambert\n\n- Sophie Nguyen, DRH\n"
    p = Pseudonymizer()
    out = p.pseudonymize(text)
    assert out == "Participants :\n- [PERSONNE_1]\n- [PERSONNE_2]\n\n- [PERSONNE_3], DRH\n"
    assert p.restore(out) == text


def test_long_lines_go_to_the_model_in_pieces(monkeypatch):
    monkeypatch.setattr(pseudonymize, "_NER_PIECE", 300)
    paragraph = "Le dossier suit son cours normal depuis le printemps dernier. "
    text = paragraph * 8 + "Réunion avec Jean-Pierre Lefèvre et Nadia Oukaci. " + paragraph * 8
    p = Pseudonymizer()
    out = p.pseudonymize(text)
    assert "Lefèvre" not in out and "Oukaci" not in out
    assert p.restore(out) == text


def test_without_the_model_patterns_still_work(monkeypatch, caplog):
    missing = pseudonymize._NerLoader("fr_modele_absent")
    monkeypatch.setattr(pseudonymize, "_ner", missing)
    with caplog.at_level(logging.WARNING, logger="ai.pseudonymize"):
        assert not pseudonymize.preload()
        assert not pseudonymize.preload()  # tried, and reported, once
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "NOT pseudonymised" in warnings[0].getMessage()

    p = Pseudonymizer()
    out = p.pseudonymize(f"Claire Dubois-Martin ({EMAIL}) et Mme Oukaci, {PHONE}.")
    assert out == "Claire Dubois-Martin ([EMAIL_1]) et Mme [PERSONNE_1], [TELEPHONE_1]."
