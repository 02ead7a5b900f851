"""What every page offers a class: presenter mode for a projector and narrow charts for a phone
(:mod:`~bnviz.ui.classroom.presenter`), the link to this exact view
(:mod:`~bnviz.ui.classroom.sharing`) and the page's charts as SVG files
(:mod:`~bnviz.ui.classroom.svg_export`)."""
