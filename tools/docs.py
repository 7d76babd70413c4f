"""Render nbdev's processed notebooks (`_proc/`) to a static HTML site in _docs/ without Quarto.

`nbdev-docs` is two steps: `nbdev-proc-nbs` turns each notebook of nbs/ into `_proc/` (exported code hidden, a
`show_doc` cell with its markdown output after each exported function or class, front matter in a raw cell), then
Quarto renders `_proc/` to HTML. Quarto cannot always be installed (the PyPI package `quarto-cli` downloads it from
GitHub), so this script does the second step: prose, examples and their outputs (plots embedded), each `show_doc`
block as signature, docstring, a parameter table (from its docments) and the source link, a sidebar of the chapters,
and pages that open from disk. `_proc/` is brought up to date first (unless `--proc DIR` is given); a notebook that
nbdev cannot process is reported, gets a page saying why, and the others still render (exit status 1).
Usage: python tools/docs.py [--out _docs] [--proc DIR]; then open _docs/index.html.
"""
import argparse, ast, html, io, os, re, shutil, subprocess, sys, tempfile, tokenize
from pathlib import Path
import nbformat, yaml
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbconvert.filters.ansi import ansi2html
from pygments.formatters import HtmlFormatter
from nbdev.config import get_config
from nbdev.doclinks import nbglob

cfg = get_config()
root, nbs = cfg.config_path, cfg.nbs_path
site_url = f"{cfg.doc_host}{cfg.doc_baseurl}".rstrip('/') + '/'

# ---- bringing _proc up to date -----------------------------------------------------------------------------------
def notebooks():
    "Source notebooks in site order: index, chapters, then sub-folders (tutorials)"
    ps = nbglob(nbs, func=Path)
    return sorted(ps, key=lambda p: (p.parent != nbs, p.name != 'index.ipynb', str(p.relative_to(nbs))))

def stale(src:Path, proc:Path)->bool: return not (proc/src.relative_to(nbs)).exists() or (proc/src.relative_to(nbs)).stat().st_mtime < src.stat().st_mtime

_DRV = ("import sys; from pathlib import Path; from nbdev.serve_drv import main; from nbdev.processors import FilterDefaults;"
        "main((Path(sys.argv[1]), Path(sys.argv[2]), FilterDefaults))")

def _why(err:str)->str:
    "The useful end of a traceback: nbdev's 'Error in notebook ...' message, or the last exception line"
    m = list(re.finditer(r'^Exception: Error in notebook.*', err, re.M|re.S)) or list(re.finditer(r'^\w[\w.]*(Error|Exception)\b.*', err, re.M|re.S))
    return (m[-1].group(0) if m else err[-2000:]).strip()

def update_proc(srcs, proc:Path)->dict:
    "Run `nbdev-proc-nbs` if `proc` is out of date, then each notebook it left out on its own: {notebook: error}"
    todo = [s for s in srcs if stale(s, proc)]
    if not todo and proc.exists() and cfg.config_file.stat().st_mtime <= proc.stat().st_mtime: return {}
    exe = Path(sys.executable).parent/'nbdev-proc-nbs'
    log = Path(tempfile.gettempdir())/'fashion_clf_nbdev_proc.log'
    print(f"nbdev-proc-nbs ({len(todo)} notebook(s) out of date; log: {log})", flush=True)
    env = {**os.environ, 'MPLBACKEND': os.environ.get('MPLBACKEND', 'Agg')}
    with open(log, 'w') as f: subprocess.run([str(exe) if exe.exists() else 'nbdev-proc-nbs'], cwd=root, env=env, stdout=f, stderr=subprocess.STDOUT)
    errors = {}
    for s in [s for s in srcs if stale(s, proc)]:  # nbdev-proc-nbs stops at its first failure: redo the rest one by one
        print(f"  processing {s.relative_to(nbs)} alone", flush=True)
        r = subprocess.run([sys.executable, '-c', _DRV, str(s), str(proc/s.relative_to(nbs))], cwd=root, env=env, capture_output=True, text=True)
        if r.returncode or stale(s, proc): errors[s] = _why(r.stderr)
    return errors

# ---- show_doc blocks -------------------------------------------------------------------------------------------
_SHOWDOC = re.compile(r'\A---\s*\n+(?:\[source\]\((\S+?)\)(?:\{[^}]*\})?\s*\n+)?(#+) (.+?)\n+```python\n(.*?)\n```\n*(.*)\Z', re.S)

def _clean_reprs(s): return re.sub(r"<(?:function|class|built-in function|bound method) '?([\w.]+)'?[^<>]*>", r'\1', s)

def parse_sig(sig:str):
    "Parameters (name, type, default, docment) and (return type, docment) of a signature as fastcore's `DocmentText` writes it"
    sig = _clean_reprs(sig)
    code = re.sub(r'^(async\s+)?def\s', 'def ', sig.strip()) + '\n    ...'
    fn = ast.parse(code).body[0]
    notes, last = {}, None  # line -> comment; a comment-only line continues the comment above it
    for t in tokenize.generate_tokens(io.StringIO(code).readline):
        if t.type != tokenize.COMMENT: continue
        txt = t.string[1:].strip()
        if t.line.strip().startswith('#') and last is not None: notes[last] += ' ' + txt
        else: notes[last := t.start[0]] = txt
    seg = lambda n: ast.get_source_segment(code, n) if n is not None else ''
    a = fn.args
    pos = a.posonlyargs + a.args
    items = [(p, d) for p, d in zip(pos, [None]*(len(pos)-len(a.defaults)) + a.defaults)]
    if a.vararg: items.append((a.vararg, None))
    items += list(zip(a.kwonlyargs, a.kw_defaults))
    if a.kwarg: items.append((a.kwarg, None))
    ends = [(d or p).end_lineno for p, d in items]
    rows = []
    for i, (p, d) in enumerate(items):
        star = '*' if p is a.vararg else '**' if p is a.kwarg else ''
        last_on_line = i+1 == len(items) or ends[i+1] != ends[i]
        rows.append((star + p.arg, seg(p.annotation), seg(d), notes.get(ends[i], '') if last_on_line else ''))
    rl = fn.body[0].lineno - 1  # the line of `)->type:`, with the return's docment
    ret = (seg(fn.returns), notes.get(rl, '') if rl not in ends else '')
    return rows, ret

def _compact(name, rows, ret, width=66):
    "The signature without its docments (they go in the table), wrapped at `width`"
    ps = [p + (f':{t}' if t else '') + (f'={d}' if d else '') for p, t, d, _ in rows]
    lines = [f'{name}(']
    for i, p in enumerate(ps):
        p += ', ' if i+1 < len(ps) else ''
        if len(lines[-1]) + len(p.rstrip()) > width and lines[-1].strip(): lines.append('    ')
        lines[-1] += p
    return '\n'.join(l.rstrip() for l in lines) + (f')->{ret[0]}' if ret[0] else ')')

def _code(src): return markdown2html_mistune(f"```python\n{src}\n```")

def showdoc_html(md:str, up:str):
    "HTML for a `show_doc` markdown output; None when `md` is not one"
    m = _SHOWDOC.match(md.strip())
    if not m: return None
    url, level, name, sig, doc = m.groups()
    h = f'<a class="src" href="{html.escape(url)}" target="_blank">source</a>' if url else ''
    h += f'<h{len(level)} id="{html.escape(name.lower())}" class="sd-name">{html.escape(name)}</h{len(level)}>'
    try: rows, ret = parse_sig(sig)
    except Exception: h += _code(_clean_reprs(sig)); rows, ret = [], ('', '')  # not a `def`: nbdev's block as it is
    else: h += _code(_compact(name.split('.')[-1], rows, ret))
    if doc.strip(): h += f'<div class="sd-doc">{md_html(doc, up)}</div>'
    if any(r[3] for r in rows) or ret[1]:
        cell = lambda s, c='': f'<td class="{c}">{md_html(s, up, inline=True) if c == "det" else ("<code>"+html.escape(s)+"</code>" if s else "")}</td>'
        body = ''.join(f'<tr><td><strong>{html.escape(n)}</strong></td>{cell(t)}{cell(d)}{cell(x, "det")}</tr>' for n, t, d, x in rows if n not in ('self', 'cls'))
        if ret[1] or ret[0] not in ('', 'None'): body += f'<tr class="ret"><td><strong>Returns</strong></td>{cell(ret[0])}<td></td>{cell(ret[1], "det")}</tr>'
        h += f'<table class="params"><thead><tr><th></th><th>Type</th><th>Default</th><th>Details</th></tr></thead><tbody>{body}</tbody></table>'
    return f'<div class="showdoc">{h}</div>'

# ---- pages ------------------------------------------------------------------------------------------------------
def md_html(src:str, up:str, inline=False)->str:
    "Markdown to HTML; links into the published site become relative links"
    out = markdown2html_mistune(src).replace(site_url, up)
    return re.sub(r'^<p>(.*)</p>\s*$', r'\1', out, flags=re.S) if inline else out

def front_matter(nb)->dict:
    c = nb.cells[0] if nb.cells else None
    if c is not None and c.cell_type == 'raw' and c.source.lstrip().startswith('---'):
        try: return yaml.safe_load(c.source.strip().strip('-')) or {}
        except yaml.YAMLError: return {}
    return {}

def directives(src:str):
    "Quarto cell options (`#| key: value`) and the code without them"
    ds, lines = {}, src.splitlines()
    while lines and (m := re.match(r'^#\|\s*([\w-]+)\s*:?\s*(.*)$', lines[0])): ds[m[1]] = m[2].strip().lower(); lines.pop(0)
    return ds, '\n'.join(lines).strip('\n')

def output_html(o, asis:bool, up:str)->str:
    t = o.output_type
    if t == 'stream': return f'<pre class="out {o.name}">{ansi2html("".join(o.text))}</pre>'
    if t == 'error': return f'<pre class="out stderr">{ansi2html(chr(10).join(o.traceback))}</pre>'
    d = o.get('data', {})
    if 'text/markdown' in d and asis: return showdoc_html(d['text/markdown'], up) or md_html(d['text/markdown'], up)
    if 'text/html' in d: return f'<div class="out html">{d["text/html"]}</div>'
    for k in ('image/png', 'image/jpeg', 'image/gif'):
        if k in d: return f'<div class="out"><img src="data:{k};base64,{d[k].strip()}"></div>'
    if 'image/svg+xml' in d: return f'<div class="out">{d["image/svg+xml"]}</div>'
    if 'text/markdown' in d: return f'<div class="out">{md_html(d["text/markdown"], up)}</div>'
    if 'text/plain' in d: return f'<pre class="out">{ansi2html(d["text/plain"])}</pre>'
    return ''

def body_html(nb, up:str)->str:
    parts = []
    for c in nb.cells:
        if c.cell_type == 'markdown': parts.append(md_html(c.source, up))
        if c.cell_type != 'code': continue
        ds, src = directives(c.source)
        if ds.get('include') == 'false': continue
        h = _code(src) if src.strip() and ds.get('echo') != 'false' else ''
        if ds.get('output') != 'false': h += ''.join(output_html(o, ds.get('output') == 'asis', up) for o in c.get('outputs', []))
        if h: parts.append(f'<div class="cell">{h}</div>')
    return '\n'.join(parts)

def local_links(h:str, src:Path, out:Path, up:str, pages:dict)->str:
    "Point relative links to notebooks at their pages, copy files under nbs/ (README images) into the site, link other repo files on the forge"
    def fix(m):
        ref = m[2]
        for base in (src.parent, root):
            f = (base/ref).resolve()
            if f in pages: return f'{m[1]}="{up}{pages[f]}{m[3]}"'
            if f.is_file() and f.is_relative_to(nbs):
                rel = f.relative_to(nbs)
                (out/rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(f, out/rel)
                return f'{m[1]}="{up}{rel.as_posix()}{m[3]}"'
        f = (root/ref).resolve()
        if f.is_file() and f.is_relative_to(root) and cfg.get('git_url'):  # a file of the repository: link it on the forge
            return f'{m[1]}="{cfg.git_url}/blob/{cfg.branch}/{f.relative_to(root).as_posix()}{m[3]}"'
        return m[0]
    return re.sub(r'\b(src|href)="(?![a-z][\w+.-]*:|#|/)([^"#?]+)([^"]*)"', fix, h)

def toc_html(h:str)->str:
    items = re.findall(r'<h([23])[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', h, re.S)
    li = ''.join(f'<li class="l{lv}"><a href="#{i}">{re.sub(r"<[^>]+>|¶|&#182;", "", t)}</a></li>' for lv, i, t in items)
    return f'<nav class="toc"><h5>On this page</h5><ul>{li}</ul></nav>' if li else ''

CSS = """
body{margin:0;font:16px/1.55 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#212529}
a{color:#2780e3;text-decoration:none} a:hover{text-decoration:underline}
header{background:#2780e3;color:#fff;padding:10px 24px;font-size:19px;display:flex;justify-content:space-between}
header a{color:#fff} .wrap{display:flex;align-items:flex-start}
.side{width:230px;flex:none;padding:20px 16px;font-size:14px;position:sticky;top:0;max-height:100vh;overflow:auto}
.side a{display:block;padding:3px 6px;color:#495057;border-radius:3px} .side a.cur{background:#e9f2fc;color:#2780e3;font-weight:600}
.side .sec{margin:14px 6px 4px;font-weight:600;color:#212529}
main{flex:1;min-width:0;max-width:900px;padding:8px 32px 80px}
.toc{width:210px;flex:none;padding:20px 12px;font-size:13px;position:sticky;top:0;max-height:100vh;overflow:auto}
.toc ul{list-style:none;padding:0;margin:0;border-left:1px solid #dee2e6} .toc li a{display:block;padding:2px 10px;color:#6c757d}
.toc li.l3 a{padding-left:22px} .toc h5{margin:0 0 8px;font-size:14px}
h1.title{font-size:2.2em;margin:.6em 0 .2em} p.subtitle{font-size:1.2em;color:#6c757d;margin-top:0}
h2{margin-top:1.8em;border-bottom:1px solid #dee2e6;padding-bottom:4px} .anchor-link{display:none}
code{color:#7d12ba;font-size:.9em} pre code{color:inherit}
.highlight{background:#f8f9fa;border-left:3px solid #dee2e6;margin:1em 0} .highlight pre{margin:0;padding:10px 14px;overflow:auto;font-size:14px}
pre.out{margin:.3em 0 1em;padding:6px 14px;font-size:13.5px;overflow:auto;white-space:pre-wrap} pre.stderr{background:#fff5f5}
div.out{margin:.3em 0 1em;overflow:auto} main img{max-width:100%} .highlight .err{border:none}
table{border-collapse:collapse;margin:1em 0;font-size:14px} th,td{padding:4px 10px;border-bottom:1px solid #dee2e6;text-align:left;vertical-align:top}
.showdoc{border-top:1px solid #dee2e6;margin-top:2.2em;padding-top:.4em} .showdoc .src{float:right;font-size:13px}
.showdoc .sd-name{margin:.3em 0;font-family:SFMono-Regular,Menlo,Consolas,monospace}
.showdoc .highlight{border-left-color:#2780e3} .sd-doc>p:first-child{font-style:italic}
table.params td.det{width:55%} table.params tr.ret td{border-top:2px solid #dee2e6}
.failed{background:#fff3cd;border:1px solid #ffe69c;padding:12px 16px} .failed pre{white-space:pre-wrap}
"""

def page(title, desc, body, nav, toc, up)->str:
    sub = f'<p class="subtitle">{md_html(desc, up, inline=True)}</p>' if desc else ''
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} – {html.escape(cfg.title)}</title>'
            f'<style>{HtmlFormatter().get_style_defs(".highlight")}{CSS}</style></head><body>'
            f'<header><a href="{up}index.html">{html.escape(cfg.title)}</a>'
            + (f'<a href="{html.escape(cfg.git_url)}">source code</a>' if cfg.get('git_url') else '') +
            f'</header><div class="wrap"><nav class="side">{nav}</nav><main><h1 class="title">{html.escape(title)}</h1>{sub}'
            f'{body}</main>{toc}</div></body></html>')

def title_of(nb)->str:
    "Front matter title, else the first `# heading`"
    if t := front_matter(nb).get('title'): return str(t)
    for c in nb.cells:
        if c.cell_type == 'markdown' and (m := re.search(r'^#\s+(.+)$', c.source, re.M)): return m[1].strip()
    return 'untitled'

def build(out:Path, proc:Path=None)->int:
    srcs = notebooks()
    if proc is None: proc, errors = root/'_proc', update_proc(srcs, root/'_proc')
    else: errors = {s: f"not in {proc}" for s in srcs if not (proc/s.relative_to(nbs)).exists()}
    pages = []  # (source, processed notebook or None, output path relative to out)
    for s in srcs:
        try: nb = None if s in errors else nbformat.read(proc/s.relative_to(nbs), as_version=4)
        except Exception as e: nb, errors[s] = None, f"{proc/s.relative_to(nbs)}: {type(e).__name__}: {e}"
        fm = front_matter(nb) if nb else {}
        name = fm.get('output-file') or re.sub(r'^\d+[a-zA-Z0-9]*_', '', s.stem.lower()) + '.html'
        pages.append((s, nb, (s.parent.relative_to(nbs)/name).as_posix()))
    def _title(s, nb):
        try: return title_of(nb or nbformat.read(s, as_version=4))
        except Exception: return s.stem
    titles = {s: _title(s, nb) for s, nb, _ in pages}
    for s, nb, name in pages:
        up = '../' * name.count('/')
        nav, sec = '', ''
        for q, _, n in pages:
            if (d := str(Path(n).parent)) != '.' and d != sec: sec = d; nav += f'<div class="sec">{html.escape(d.replace("_", " ").title())}</div>'
            nav += f'<a href="{up}{n}"{" class=cur" if q == s else ""}>{html.escape(titles[q])}</a>'
        try:
            if nb is None: raise RuntimeError(errors[s])
            fm = front_matter(nb)
            body = body_html(nb, up)
            if name == 'index.html' and titles[s] == cfg.title: body = re.sub(r'\A\s*<h1[^>]*>.*?</h1>', '', body, flags=re.S)
            h = page(titles[s], fm.get('description', ''), body, nav, toc_html(body), up)
        except Exception as e:
            errors.setdefault(s, f"{type(e).__name__}: {e}" if not isinstance(e, RuntimeError) else str(e))
            h = page(titles[s], '', f'<div class="failed"><p>This chapter could not be built from <code>{s.relative_to(root)}</code>:</p>'
                     f'<pre>{html.escape(errors[s])}</pre></div>', nav, '', up)
        dest = out/name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(local_links(h, s, out, up, {q.resolve(): n for q, _, n in pages}), encoding='utf-8')
        print(f"{s.relative_to(root)} -> {dest}" + (" (FAILED)" if s in errors else ""))
    for s, e in errors.items(): print(f"\nFAILED {s.relative_to(root)}:\n{e}", file=sys.stderr)
    return 1 if errors else 0

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=str(root/'_docs'), help='site folder')
    ap.add_argument('--proc', default=None, help="nbdev's processed notebooks to render as they are (default: _proc/, updated first)")
    a = ap.parse_args()
    sys.exit(build(Path(a.out).resolve(), Path(a.proc).resolve() if a.proc else None))
