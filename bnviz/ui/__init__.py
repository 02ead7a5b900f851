"""bnviz's user interface, the only Streamlit and Altair code: one package per page's subject
(``smoothing``, ``optimization``, ``tuning``, ``batchnorm``), what every page offers a class
(``classroom``), and what they share: controls that act in the browser (``browser_controls``),
specs built once (``vega``), settings kept in the link (``settings``, ``urlstate``), the two
languages (``i18n``, ``strings``), the page's frame (``page``) and the list of pages (``navigation``)."""
