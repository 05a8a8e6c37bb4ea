"""Every tuning constant of the preprocessing, in one place: what it is, in what unit, and why this value.

Each was chosen on the development set (`python -m training evaluate --handwriting --development`: MNIST's
training digits rendered as users send them, from another seed) and the committed synthetic set, never on
the real-handwriting evaluation itself. Change one only with `make evaluate` before and after, every subset.
"""

# fit: MNIST's own geometry. Each digit's box was scaled so its longer side is 20 px, then pasted into a
# 28x28 field with its centre of mass at the centre.
SIZE = 28
BOX = 20

# decode: larger images are reduced to about this longer side before any per-pixel work (the JPEG decoder
# scales while decoding). A digit that ends up 20 px tall loses nothing; a 12-megapixel photo costs
# milliseconds instead of a second.
WORKING_SIZE = 400
# decode, for reading what is written (`/read`): the same. Measured on the reading development set: 640 and 900
# read its photographed paper no better (0.447 and 0.413 exact against 0.453) at 1.6 and 2.3 times the time.
READ_WORKING_SIZE = 400

# background: an image is clean (a render, a canvas, a scan with a white background) when at least this share
# of its border is exactly one level...
CLEAN_BORDER = 0.5
# ...and at least this share of the whole image is at that level (a sheet photographed on a flat fill has an
# even border but grain everywhere else). A tightly cropped digit touches its border, so "all of the border"
# would send every tight crop down the photo path.
CLEAN_IMAGE = 0.3
# background, photos: where the ink is, is judged on means over blocks of this fraction of the shorter side.
SMOOTHING = 64
# background, photos: the first look follows everything wider than this fraction of the shorter side (a
# step such as a sheet's edge, a shadow): strokes of a digit that is small in its image are narrower.
OPENING = 5
# background, photos: a digit that spans at least this share of its image's height or width fills it...
FILLS = 0.8
# reading: marks at least this share of their image tall get the second look too (a number cropped loosely, in
# strokes wider than the first look's window; the second look only restores ink near the strokes found).
READ_FILLS = 0.8
# ...when its ink also covers at least this share of the image: cropped digits cover 18-60 % (10th to 90th
# percentile, development set), faint photos whose sheet's edges widen the crop 6-12 %...
INKED = 0.15
# ...or this share once the second look has restored the inside of strokes the first look hollowed out (a
# thick marker cropped tight): cropped digits 27-60 %, those faint photos 10-27 %.
RESTORED = 0.35
# ...and its strokes can be a quarter of its size, as wide as the first look's window: the second look's window
# is this fraction of the digit's longer side, so a wide or bold stroke is never taken for background.
REACH = 0.7

# ink: the least the brightest ink must stand out from the background, in the noise's standard deviations.
CONTRAST = 6
# ink, photos: values within the noise (4 deviations) or under this share of the ink's range are cleared.
NOISE_FLOOR = 0.1
# pieces: lighter pixels (a share of the ink's range) do not count towards the digit's extent.
INK_THRESHOLD = 0.05

# pieces, photos of a digit small in its frame: ink along more than this share of one side is a sheet's edge
# or the desk beyond it, reaching in.
EDGE_SHARE = 0.2
# pieces: images up to this size (an MNIST digit, a small icon) are taken as one digit.
SMALL = 2 * SIZE
# pieces: masks are analysed reduced to about this many cells along their longer side.
MASK_CELLS = 160
# pieces: beyond this many runs the "ink" is noise or texture, not strokes: the whole extent is used.
MAX_RUNS = 20_000
# pieces: ink at most this share of the digit's longer side away from it is part of it (a 5's flag, a dashed stroke).
GAP = 0.3
# pieces: a photographed sheet's edge runs within this share of a side from the image's border...
BORDER = 0.12
# ...and is at most this share of the shorter side thick, on average along its length.
LINE = 0.04

# fit: the strokes' cores are read at this percentile of the digit's inked pixels; MNIST has them at full white.
STROKE_QUANTILE = 75
# fit: strokes at least this bright (of 255) are left as they are, so an MNIST digit comes through unchanged.
FULL = 0.8 * 255

# segment (reading a number): the marks' height is the median height of the pieces with at least this share of
# the largest piece's area (a 1 has a third of an 8's ink).
MAIN_PIECE = 0.25
# segment: a piece with less ink than this share of its box, holding other marks, is a frame around them.
FRAME_FILL = 0.15
# segment: a thin piece longer than this many times the marks' height is a line (an underline, a box's side).
LINE_LENGTH = 1.5
# segment: two pieces sharing at least this share of the narrower one's width are one character (a 5's flag)...
SAME_COLUMN = 0.5
# ...unless together they would be taller than this many times the marks' height (two lines written close).
CHARACTER_HEIGHT = 1.35
# segment: a small piece (under 0.4 of the marks' height) within this share of their height beside a
# character joins it (a broken stroke)...
JOIN_GAP = 0.15
# ...and one further from any, with less than this share of the largest piece's area, is a speck.
SPECK = 0.1
# segment: a character wider than SPLIT_WIDTH times the marks' height is digits that touch, each about TOUCHING
# of the height wide (typed digits 0.5-0.7, handwritten 0.3-1.0; a handwritten 0 can be wider than tall).
SPLIT_WIDTH = 1.5
TOUCHING = 0.7
# segment: so is one wider than this many times their height and 1.6 times the other marks' median width.
TOUCHING_PAIR = 1.1
# segment: a reading has at most this many marks (the API reads numbers of up to 10 digits; more is text or noise).
MAX_MARKS = 24
# segment: an image with more connected pieces of ink than this is refused before they are grouped (a grid of dots,
# a page of text, confetti: issue 36). Every committed set has at most 68, the 99th percentile 34.
MAX_PIECES = 400

# layout (reading what is written): a glyph at least this share of the marks' height tall stands on a line of its
# own right; smaller ones (a decimal point, a comma, a minus, a colon's dot, a speck) are placed on a line after.
LINE_MARK = 0.55
# layout: two tall glyphs side by side are on one line when their heights overlap by this share of the shorter
# (a line turned by 10 degrees still overlaps its neighbours by most of their height).
SAME_LINE = 0.4
# layout: a separator is at most this share of its line's height tall...
SEPARATOR_HEIGHT = 0.5
# ...and a decimal point or a comma at most this share of it wide, and at least this share of the pen's width
# across (grain and specks are finer than the pen that wrote the digits).
DOT_WIDTH = 0.42
DOT_PEN = 0.6
# layout: a decimal point's or a comma's bottom lies below this share of its line's height (from the line's top)...
BASELINE = 0.8
# ...and a comma's descends at least this far below the line's bottom (a share of its height) where a point's does not.
DESCENT = 0.07
# ...or, round as a point but this far below the line's bottom, a comma all the same (a pen's comma is often a
# blob with a short tail; on the development set the commas descend 0.15-0.28 and the points under 0.11).
COMMA_DESCENT = 0.13
# layout: a minus is at least this many times as wide as it is tall, and its middle between these shares of the line.
MINUS_ASPECT = 1.8
MINUS_MIDDLE = (0.25, 0.75)
# layout: a glyph under this share of its line's height whose top is well below the line's (a lowercase letter, a
# unit) is no digit: the digits of one line are of one height.
UNDERSIZED = 0.62
# layout: a slash is a thin stroke (its ink's minor axis under this share of its major axis)...
SLASH_THIN = 0.16
# ...leaning at least this many degrees from upright, and taller than the line's digits by this share of them (an
# MNIST 1 leans as much as a slash often does; a slash written between digits is taller than they are).
SLASH_LEAN = 12
SLASH_TALLER = 1.03
# layout: a glyph this wide (a share of its line's height) may be digits that touch: it gets cut points at least
# CUT_SPACING of the height apart, a candidate digit between every two of them PART_WIDTH of the height wide (the
# whole glyph too), and the path through them whose digits the models believe most wins (service/core/marks.py).
MAYBE_TOUCHING = 0.85
CUT_SPACING = 0.12
PART_WIDTH = (0.15, 1.3)
# layout: an image whose glyphs would make more candidate digits than this is refused before they are fitted (a wide
# scrawl of many cut points: issue 36). Every committed set makes at most 371, the 99th percentile 44.
MAX_CANDIDATES = 600
# layout: a digit's width, as a share of its line's height, where the line has too few digits to measure it.
TYPICAL_WIDTH = 0.6

# segment, photos: a piece touching the frame at least this share of the image tall or wide (and far taller or wider
# than the pieces that do not touch it), or with this many times their median area, is the desk, a shadow or a
# sheet's edge reaching in...
BACKGROUND = 0.3
BACKGROUND_AREA = 8
# segment: pieces smaller than this share of the image are grain to the medians that the background is judged by.
SPECK_AREA = 2e-4
# ...and so is a piece of that size whose runs are this many times the others' median run (a blob, not strokes).
BLOB_PENS = 3.5
# layout: a small piece sharing this much of its columns with a tall glyph is part of that glyph (a serif, a corner).
INSIDE = 0.8
