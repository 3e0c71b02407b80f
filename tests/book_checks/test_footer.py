"""Every page's footer shows this release's version, the two licences, where the data's terms are
and how to cite the book (book/_ext/footer.py), with links that resolve."""

import html as html_lib
import re

import pytest
from test_launch_buttons import HTML, _page, _toc_pages

from xray_utils import project


def _footer(page: str) -> str:
    found = re.findall(r'<p class="xray-footer">(.*?)</p>', _page(page), re.S)
    assert len(found) == 1, f"{page}: {len(found)} footers"
    return found[0]


def _links(footer: str) -> dict[str, str]:
    """``{link text: href}`` of the footer."""
    return {
        html_lib.unescape(text): html_lib.unescape(href)
        for href, text in re.findall(r'<a href="([^"]*)">([^<]*)</a>', footer)
    }


@pytest.mark.parametrize("page", _toc_pages())
def test_the_footer_shows_the_version_the_licences_and_how_to_cite(page):
    footer, home = _footer(page), project.home()
    assert f"Version {project.version()} · " in footer
    links = _links(footer)
    assert links["MIT licence"] == home.file_url("LICENSE")
    assert links["CC BY 4.0"] == project.CONTENT_LICENSE_URL
    assert "The X-ray images are under neither" in footer
    here = (HTML / page).parent
    dataset = (here / links["their sources’ own terms"]).resolve()
    assert dataset == (HTML / "book" / "dataset.html").resolve()
    target, _, anchor = links["How to cite"].partition("#")
    front = (here / target).resolve()
    assert front == (HTML / "book" / "chapters" / "index.html").resolve()
    assert anchor and f'<section id="{anchor}">' in front.read_text(), f"{page}: no section #{anchor} on the front page"


def test_the_front_page_shows_the_citation_from_citation_cff():
    front = _page("book/chapters/index")
    cited = project.citation()
    section = front.split('<section id="how-to-cite">', 1)[1].split("</section>", 1)[0]
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", section))  # the BibTeX block is highlighted span by span
    assert cited.text().replace("*", "") in text, "the citation line"
    assert cited.bibtex() in text, "the BibTeX entry"
