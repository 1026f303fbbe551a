"""Language detection on realistic sentences in the seven languages the aggregator follows."""

from __future__ import annotations

import pytest

from aggregator.language import detect_language

SENTENCES = {
    "en": "The new electric SUV goes on sale in Europe next spring with a range of 500 kilometres.",
    "hi": "टाटा मोटर्स ने आज अपनी नई इलेक्ट्रिक कार लॉन्च की, जिसकी कीमत दस लाख रुपये से शुरू होती है।",
    "it": "La nuova utilitaria elettrica arriverà nei concessionari entro la fine dell'anno.",
    "de": "Der neue Elektro-Kombi kommt im Frühjahr zu den Händlern und kostet rund 50.000 Euro.",
    "zh": "比亚迪今天发布了新款电动轿车，续航里程最高可达八百公里。",
    "fr": "La citadine électrique sera livrée aux premiers clients français dès le mois prochain.",
    "es": "El fabricante confirmó que el nuevo coche eléctrico se producirá en Martorell.",
}


@pytest.mark.parametrize(("lang", "sentence"), sorted(SENTENCES.items()))
def test_each_of_our_languages_is_recognised(lang: str, sentence: str) -> None:
    assert detect_language(sentence) == lang


@pytest.mark.parametrize(
    "text", ["", "   ", "ok", "Tesla", "2024", "小米", "https://example.org/a"]
)
def test_short_or_empty_text_gives_none(text: str) -> None:
    assert detect_language(text) is None


def test_japanese_is_not_mistaken_for_chinese() -> None:
    assert detect_language("トヨタは新しい電気自動車を来年発売すると発表しました。") == "ja"
