"""The public register: KBO/BCE Open Data extracts loaded as firmographics and juridical-situation events.

- `extract`: an extract on disk (folder or zip) read as streams of CSV rows; `rows`: a CSV row to a
  register row (pure); `codes`: NACE sections and regions (pure);
- `store`: the register's tables and the state of imports; `load`: `load_extract`, the import itself;
- `changes`: a monitored company's states to the `RegisterEvent`s announced (pure);
- `view`: `register_view(conn, company_id)`, what the register says of a company, with its firmographics;
- `cli`: `earlywarning import kbo PATH`.

Nothing is imported here: the signals service uses `codes` and must not pull in the loader with it.
"""
