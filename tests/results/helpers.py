"""Building small rated campaigns for the results tests.

The helpers live in :mod:`tests.factories` beside :func:`tests.factories.rated_campaign`,
which brings such a campaign through its lifecycle; they are named here too, where the
results and reports tests have always imported them from.
"""

from tests.factories import Level, rate, rating_questionnaire

__all__ = ["Level", "rate", "rating_questionnaire"]
