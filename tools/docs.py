"""Render every notebook in nbs/ to a static HTML site in _docs/ without Quarto.

`nbdev-docs` builds the documentation site with Quarto. Where Quarto cannot be installed (the PyPI package
`quarto-cli` downloads Quarto from GitHub when it builds, which fails on machines without GitHub access), this script
renders the same notebooks with nbconvert: prose, code and stored outputs (plots are embedded in the pages), nbdev
directives honoured (`#| hide` drops a cell, `#| echo: false` keeps only its output, directive lines are removed), and a
navigation bar linking the chapters. Usage: python tools/docs.py [--out _docs]; then open _docs/index.html.
"""
import argparse, copy, json, re, sys
from pathlib import Path
import nbformat
from nbconvert import HTMLExporter

root = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(root/'tools'))
from readme import directives

def page_name(p:Path)->str:
    "HTML name of notebook `p`, without its number prefix, as nbdev names pages"
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', p.stem.lower()) + '.html'

def title_of(nb)->str:
    "The notebook's `# Title`"
    for c in nb.cells:
        if c.cell_type == 'markdown':
            m = re.search(r'^#\s+(.+)$', c.source, re.M)
            if m: return m.group(1).strip()
    return 'untitled'

def prepare(nb):
    "A copy of `nb` with nbdev directives applied"
    nb = copy.deepcopy(nb)
    cells = []
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.lstrip().startswith('---'): continue  # front matter (e.g. skip_exec)
        if c.cell_type == 'code':
            ds, body = directives(c.source)
            if 'hide' in ds or 'default_exp' in ds or ds.get('include') == 'false': continue
            c.source = body
            if ds.get('echo') == 'false': c.metadata.setdefault('jupyter', {})['source_hidden'] = True; c.source = ''
        cells.append(c)
    nb.cells = cells
    return nb

def build(out:Path):
    import shutil
    if (root/'nbs'/'images').is_dir(): shutil.copytree(root/'nbs'/'images', out/'images', dirs_exist_ok=True)
    nbs = sorted((root/'nbs').glob('*.ipynb')) + sorted((root/'nbs'/'tutorials').glob('*.ipynb'))
    nbs = [p for p in nbs if p.name != 'index.ipynb']
    pages = [(root/'nbs'/'index.ipynb', 'index.html')] + [(p, ('tutorials/' if p.parent.name == 'tutorials' else '') + page_name(p)) for p in nbs]
    loaded = {p: nbformat.read(p, as_version=4) for p, _ in pages}
    ex = HTMLExporter(template_name='lab', exclude_input_prompt=True, exclude_output_prompt=True)
    for p, name in pages:
        depth = name.count('/')
        up = '../' * depth
        nav = ' · '.join(f'<a href="{up}{n}">{title_of(loaded[q])}</a>' for q, n in pages)
        html, _ = ex.from_notebook_node(prepare(loaded[p]))
        bar = f'<nav style="padding:8px 16px;border-bottom:1px solid #ddd;font-family:sans-serif;font-size:14px">{nav}</nav>'
        html = re.sub(r'(<body[^>]*>)', r'\1' + bar.replace('\\', '\\\\'), html, count=1)
        if name == 'index.html': html = html.replace('src="nbs/images/', 'src="images/')  # README paths -> site paths
        dest = out/name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(html, encoding='utf-8')
        print(f"{p.relative_to(root)} -> {dest.relative_to(root) if dest.is_relative_to(root) else dest}")

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=str(root/'_docs'))
    build(Path(ap.parse_args().out))
