"""Tests of the offline docs site (tools/docs.py): the show_doc parser on its own, then a site built from nbdev's
`_proc/` (CI runs `nbdev-proc-nbs` before the tests; skipped when `_proc/` is absent): show_doc blocks instead of
source, navigation that resolves, README images copied, and a notebook missing from `_proc/` reported on its page
while the others still render."""
import html, importlib.util, inspect, re, shutil, subprocess, sys
from pathlib import Path

import pytest
from fastcore.docments import docments

from fashion_clf.core import load_imat

ROOT = Path(__file__).resolve().parent.parent
PROC = ROOT/'_proc'
spec = importlib.util.spec_from_file_location('docs', ROOT/'tools'/'docs.py')
docs = importlib.util.module_from_spec(spec); spec.loader.exec_module(docs)

SHOWDOC = '''---

[source](https://github.com/o/r/blob/main/pkg/m.py#L7){target="_blank" style="float:right; font-size:smaller"}

### Thing.go

```python
def go(
    src, # where from,
    # over two lines
    n:int=3, k:str='a, b', # the k
    *args, flag:<function floats at 0x7f00>=(1, 2), # a flag
    **kwargs
)->pd.DataFrame: # the frame
```

*Go somewhere*

More words.'''


def test_parse_sig():
    rows, ret = docs.parse_sig(SHOWDOC.split('```python\n')[1].split('\n```')[0])
    assert rows == [('src', '', '', 'where from, over two lines'), ('n', 'int', '3', ''), ('k', 'str', "'a, b'", 'the k'),
                    ('*args', '', '', ''), ('flag', 'floats', '(1, 2)', 'a flag'), ('**kwargs', '', '', '')]
    assert ret == ('pd.DataFrame', 'the frame')
    assert docs.parse_sig('def f()->int: # count')[1] == ('int', 'count')


def test_showdoc_html():
    h = docs.showdoc_html(SHOWDOC, '../')
    assert 'href="https://github.com/o/r/blob/main/pkg/m.py#L7"' in h and 'id="thing.go"' in h
    assert '<em>Go somewhere</em>' in h and 'More words.' in h
    text = re.sub(r'\s+', ' ', html.unescape(re.sub(r'<[^>]+>', '', h)))  # the signature may be wrapped
    assert "go(src, n:int=3, k:str='a, b', *args, flag:floats=(1, 2), **kwargs)->pd.DataFrame" in text
    assert 'where from, over two lines' in text and 'Returns' in text and '#' not in text.split('Returns')[0]
    assert docs.showdoc_html('### not a show_doc', '') is None


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The site built from a copy of _proc/ without 12_demo.ipynb, as a notebook that failed in nbdev-proc-nbs leaves it"
    if not (PROC/'00_core.ipynb').exists(): pytest.skip('no _proc/: run nbdev-proc-nbs first')
    tmp = tmp_path_factory.mktemp('docs')
    shutil.copytree(PROC, tmp/'proc')
    (tmp/'proc'/'12_demo.ipynb').unlink(missing_ok=True)
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'docs.py'), '--proc', str(tmp/'proc'), '--out', str(tmp/'site')],
                       capture_output=True, text=True, timeout=300)
    return tmp/'site', r


def text_of(p): return html.unescape(re.sub(r'<[^>]+>', ' ', p.read_text()))


def test_showdoc_not_source(site):
    out, _ = site
    page = (out/'core.html').read_text()
    assert re.search(r'href="https://github\.com/[^"]+/core\.py#L\d+"', page)
    i = page.index('id="load_imat"')
    block = re.sub(r'\s+', ' ', html.unescape(re.sub(r'<[^>]+>', '', page[i:page.index('</table>', i)])))
    assert 'load_imat(src, fname:str=None, warn:bool=True)->pd.DataFrame' in block
    for k, v in docments(load_imat).items():
        if v and k != 'return': assert v.replace('`', '') in block, k
    body = inspect.getsource(load_imat).split('"\n', 1)[1]  # after the docstring
    lines = [l.strip() for l in body.splitlines() if len(l.strip()) > 20]
    assert lines and not [l for l in lines if l in text_of(out/'core.html')]
    assert '#| ' not in text_of(out/'core.html')


def test_navigation_and_assets(site):
    out, _ = site
    pages = sorted(out.rglob('*.html'))
    assert {'index.html', 'core.html', 'data.html', 'train.html', 'tutorials/real_competition.html'} <= {p.relative_to(out).as_posix() for p in pages}
    for p in pages:
        nav = re.search(r'<nav class="side">(.*?)</nav>', p.read_text(), re.S)[1]
        links = re.findall(r'href="([^"#]+)', nav)
        assert len(links) == len(pages), p
        assert all((p.parent/l).resolve().is_file() for l in links), p
    imgs = re.findall(r'<img src="(?!data:)([^"]+)"', (out/'index.html').read_text())
    assert imgs and all((out/i).is_file() for i in imgs)


def test_failed_notebook_reported(site):
    out, r = site
    assert r.returncode == 1 and 'FAILED nbs/12_demo.ipynb' in r.stderr
    assert 'could not be built' in (out/'demo.html').read_text()
    assert 'load_imat' in (out/'core.html').read_text()
