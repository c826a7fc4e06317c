"""Forecasting one regular series: four models, a rolling-origin backtest, automatic choice.

Models (each gives a point forecast and a prediction interval ``mean ± q · sd_h``):

* ``snaive`` — seasonal naive, the value one season earlier (naive when the series is shorter
  than a season); ``sd_h = σ · sqrt(⌊(h − 1) / m⌋ + 1)``.
* ``ma`` — mean of the last ``w`` periods; ``sd_h = σ · sqrt(1 + 1/w)``.
* ``trend`` — least-squares line through time, with one annual sine/cosine pair once the data
  cover a season and four periods more; the textbook prediction interval (Student t).
* ``ets`` — additive-error exponential smoothing (Hyndman et al. 2008): level, optional additive
  or damped trend, optional additive season. Smoothing parameters minimise the sum of squared
  one-step errors over a grid evaluated for all combinations at once in numpy; for each
  combination the initial states are the exact least-squares ones (the errors are linear in
  them). The form (ANN, AAN, AAdN, ANA, AAA, AAdA) is chosen by AIC (see :func:`_aic`).
  Intervals use the closed-form variance of class-1 models:
  ``sd_h² = σ² (1 + Σ_{j<h} c_j²)`` with ``c_j = α + β·Σ_{i≤j} φ^i + γ·[j mod m = 0]``.

Why our own ETS rather than ``statsmodels``' ``ETSModel``: that fit takes 40–1000 ms per series
and form on our 2-core machines, so a backtest over three origins and six forms on 100 series
takes minutes; here one vectorised pass per form scores every parameter combination at every
backtest origin at once. ``bench/bench_forecast.py`` compares both on the same series (accuracy
and time) and ``tests/test_timeseries.py`` checks the fits agree with statsmodels.

The backtest refits every model at ``n_origins`` rolling origins (the last one leaves exactly one
horizon of data to test), pools the errors of all horizons, and reports MAE, RMSE and MAPE (over
non-zero actual values). ``model="auto"`` picks the lowest backtest MAE.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

MODELS: tuple[str, ...] = ("snaive", "ma", "trend", "ets")
ETS_FORMS: tuple[tuple[str, str], ...] = (
    ("N", "N"),
    ("A", "N"),
    ("Ad", "N"),
    ("N", "A"),
    ("A", "A"),
    ("Ad", "A"),
)
SEASONS: dict[str, int] = {"W": 52, "M": 12}

# Grids: alpha over (0, 1); beta* = beta_fraction * alpha (so 0 < beta* < alpha);
# gamma = gamma_fraction * (1 - alpha); phi for damped trends: 750 combinations at most.
ALPHAS = np.array([0.001, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 0.95])
BETA_FRACTIONS = np.array([0.01, 0.05, 0.15, 0.35, 0.6])
GAMMA_FRACTIONS = np.array([0.01, 0.05, 0.15, 0.35, 0.6])
PHIS = np.array([0.8, 0.9, 0.98])
MIN_ETS_POINTS = 4
MIN_TREND_POINTS = 3
INIT_POINTS = 10  # Hyndman's heuristic: a line through the first ten (adjusted) values
TREND_SEASON_EXTRA = 4  # the trend model adds an annual cycle from m + 4 training periods
FREE_SEASON_MAX = 12  # seasonal initial states are fitted (not just heuristic) up to monthly


@dataclass(frozen=True)
class SeriesSettings:
    """How to forecast one series. ``lower``/``upper`` clip forecasts to the target's range."""

    horizon: int = 6
    season: int = 12
    model: str = "auto"
    ma_window: int = 3
    interval: float = 0.95
    n_origins: int = 3
    lower: float | None = None
    upper: float | None = None


@dataclass
class ModelForecast:
    """One model's forecast for the next ``horizon`` periods."""

    model: str
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    detail: str  # e.g. "ETS(A,Ad,A)", "naive" when seasonal naive had too little history


@dataclass
class SeriesForecast:
    """Every model's forecast, the backtest table and the chosen model."""

    forecasts: dict[str, ModelForecast]
    backtest: pd.DataFrame  # model, mae, rmse, mape, errors
    chosen: str
    notes: list[tuple[str, dict]] = field(default_factory=list)  # i18n key, params


# ---------------------------------------------------------------------------------------------
# Simple models: for each origin o (train on y[:o]) a mean path and its standard deviations
# ---------------------------------------------------------------------------------------------


def _snaive(y: np.ndarray, origin: int, horizon: int, m: int) -> tuple[np.ndarray, np.ndarray, str]:
    train = y[:origin]
    h = np.arange(1, horizon + 1)
    if len(train) > m:
        mean = train[len(train) - m + (h - 1) % m]
        residuals = train[m:] - train[:-m]
        sd = _rms(residuals) * np.sqrt((h - 1) // m + 1)
        return mean, sd, "snaive"
    mean = np.full(horizon, train[-1])
    sd = _rms(np.diff(train)) * np.sqrt(h)
    return mean, sd, "naive"


def _moving_average(
    y: np.ndarray, origin: int, horizon: int, window: int
) -> tuple[np.ndarray, np.ndarray, str]:
    train = y[:origin]
    w = max(1, min(window, len(train)))
    mean = np.full(horizon, train[-w:].mean())
    if len(train) > w:
        rolling = np.convolve(train, np.ones(w) / w, mode="valid")[:-1]  # mean of y[t-w:t]
        sigma = _rms(train[w:] - rolling)
    else:
        sigma = float(np.std(train)) if len(train) > 1 else 0.0
    return mean, np.full(horizon, sigma * math.sqrt(1 + 1 / w)), f"ma({w})"


def _trend(
    y: np.ndarray, origin: int, horizon: int, interval: float, m: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Least-squares line through time, plus one annual sine/cosine pair once the training data
    cover a season and a few periods more (a planted "base + slope·t + A·cos(season)" pattern
    is then exactly this model). Prediction interval: s² (1 + x₀ᵀ(XᵀX)⁻¹x₀), Student t."""
    train = y[:origin]
    n = len(train)
    if n < MIN_TREND_POINTS:
        return np.full(horizon, train.mean()), np.full(horizon, 0.0), "mean"
    seasonal = m > 1 and n >= m + TREND_SEASON_EXTRA

    def design(t: np.ndarray) -> np.ndarray:
        columns = [np.ones_like(t), t]
        if seasonal:
            columns += [np.cos(2 * np.pi * t / m), np.sin(2 * np.pi * t / m)]
        return np.column_stack(columns)

    x = design(np.arange(n, dtype=float))
    x0 = design(np.arange(n, n + horizon, dtype=float))
    coef, *_ = np.linalg.lstsq(x, train, rcond=None)
    mean = x0 @ coef
    dof = n - x.shape[1]
    residual = train - x @ coef
    s = math.sqrt(float(residual @ residual) / dof) if dof > 0 else 0.0
    inverse = np.linalg.pinv(x.T @ x)
    sd = s * np.sqrt(1 + np.einsum("hi,ij,hj->h", x0, inverse, x0))
    # Express the Student-t interval as a normal one so every model shares mean ± z * sd.
    if dof > 0:
        sd *= stats.t.ppf(0.5 + interval / 2, dof) / stats.norm.ppf(0.5 + interval / 2)
    return mean, sd, "trend+season" if seasonal else "trend"


def _rms(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.sqrt(np.mean(values**2))) if len(values) else 0.0


# ---------------------------------------------------------------------------------------------
# ETS: one vectorised pass per form over every grid combination, states kept at each origin
# ---------------------------------------------------------------------------------------------


def _grid(trend: str, season: str) -> dict[str, np.ndarray]:
    """Parameter combinations of one ETS form as flat arrays (beta/gamma/phi zero when absent)."""
    betas = BETA_FRACTIONS if trend != "N" else np.array([0.0])
    gammas = GAMMA_FRACTIONS if season != "N" else np.array([0.0])
    phis = PHIS if trend == "Ad" else np.array([1.0])
    combos = np.array(list(itertools.product(ALPHAS, betas, gammas, phis)))
    alpha = combos[:, 0]
    return {
        "alpha": alpha,
        "beta": combos[:, 1] * alpha,
        "gamma": combos[:, 2] * (1 - alpha),
        "phi": combos[:, 3] if trend != "N" else np.zeros(len(combos)),
    }


def _initial_states(
    y: np.ndarray, trend: str, season: str, m: int
) -> tuple[float, float, np.ndarray]:
    """Level, slope and seasonal indices (oldest first) from the start of the series."""
    seasonal = np.zeros(max(m, 1))
    adjusted = y
    if season != "N":
        first = y[: 2 * m]
        # centred moving average (2 x m for even m) as the trend of the first two seasons
        weights = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
        centred = np.convolve(first, weights, mode="valid")
        offset = (len(weights) - 1) // 2
        detrended = first[offset : offset + len(centred)] - centred
        positions = (np.arange(len(detrended)) + offset) % m
        for p in range(m):
            values = detrended[positions == p]
            seasonal[p] = values.mean() if len(values) else 0.0
        seasonal -= seasonal.mean()
        adjusted = y - seasonal[np.arange(len(y)) % m]
    k = min(INIT_POINTS, len(adjusted))
    if trend != "N" and k >= 2:
        slope, intercept = np.polyfit(np.arange(1, k + 1, dtype=float), adjusted[:k], 1)
        return float(intercept), float(slope), seasonal
    return float(adjusted[:k].mean()), 0.0, seasonal


def _ets_pass(
    y: np.ndarray, trend: str, season: str, m: int, snapshots: list[int]
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[int, tuple[np.ndarray, ...]]]:
    """One-step errors and states for every grid combination, as affine functions of the
    free initial states.

    For fixed smoothing parameters the recursion is linear in the data and the initial states,
    so one run on the data with the heuristic start (column 0) plus one run per free initial
    state with a unit start and no data (columns 1..) give the errors for *any* start: the best
    start is then a small least-squares problem per combination and origin. Level and slope
    are always free; seasonal states too for seasons up to 12 (weekly seasons keep the
    heuristic indices, which keeps the problem small). The heuristic uses the shortest training
    prefix only, so no backtest origin sees later data.
    """
    grid = _grid(trend, season)
    lanes = len(grid["alpha"])
    level0, slope0, seasonal0 = _initial_states(y[: min(snapshots)], trend, season, m)
    period = m if season != "N" else 1
    free = ["level"] + (["slope"] if trend != "N" else [])
    if season != "N" and m <= FREE_SEASON_MAX:
        free += [f"s{p}" for p in range(m)]
    columns = 1 + len(free)
    level = np.zeros((lanes, columns))
    slope = np.zeros((lanes, columns))
    seas = np.zeros((lanes, columns, period))
    level[:, 0], slope[:, 0] = level0, slope0
    if season != "N":
        seas[:, 0, :] = seasonal0[:period]
    for j, name in enumerate(free, start=1):
        if name == "level":
            level[:, j] = 1.0
        elif name == "slope":
            slope[:, j] = 1.0
        else:
            seas[:, j, int(name[1:])] = 1.0
            seas[:, 0, int(name[1:])] = 0.0
    if "level" in free:
        level[:, 0] = 0.0
    if "slope" in free:
        slope[:, 0] = 0.0
    alpha, beta = grid["alpha"][:, None], grid["beta"][:, None]
    gamma, phi = grid["gamma"][:, None], grid["phi"][:, None]
    data_column = np.zeros(columns)
    data_column[0] = 1.0
    errors = np.empty((len(y), lanes, columns))
    states: dict[int, tuple[np.ndarray, ...]] = {}
    wanted = set(snapshots)
    for t, value in enumerate(y):
        if t in wanted:
            states[t] = (level.copy(), slope.copy(), seas.copy(), t % period)
        position = t % period
        s = seas[:, :, position]
        damped = phi * slope
        error = value * data_column - (level + damped + s)
        errors[t] = error
        level = level + damped + alpha * error
        slope = damped + beta * error
        seas[:, :, position] = s + gamma * error
    if len(y) in wanted:
        states[len(y)] = (level.copy(), slope.copy(), seas.copy(), len(y) % period)
    return grid, errors, states


def _best_starts(
    errors: np.ndarray, origins: list[int]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Least-squares free initial states per combination on y[:origin] for every origin, and
    the resulting sums of squared errors.

    errors[t, lane] = e0 + E x: minimise |e0 + E x|² → G x = r with G = EᵀE, r = −Eᵀe0, and
    then SSE = e0ᵀe0 − xᵀr. The normal equations of consecutive origins share their rows, so
    they are accumulated once. A tiny ridge keeps the level/season trade-off (adding c to every
    seasonal index and −c to the level changes nothing) solvable without changing the fit.
    """
    lanes, free = errors.shape[1], errors.shape[2] - 1
    gram = np.zeros((lanes, free, free))
    rhs = np.zeros((lanes, free))
    sse0 = np.zeros(lanes)
    done = 0
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for origin in sorted(origins):
        block = errors[done:origin]  # rows added since the previous origin
        e0 = block[:, :, 0]
        unit = np.ascontiguousarray(block[:, :, 1:].transpose(1, 2, 0))  # lane, state, time
        gram += unit @ unit.transpose(0, 2, 1)
        rhs -= (unit @ e0.T[:, :, None])[..., 0]
        sse0 += np.sum(e0**2, axis=0)
        done = origin
        if free == 0:
            out[origin] = (np.zeros((lanes, 0)), sse0.copy())
            continue
        ridge = 1e-9 * np.trace(gram, axis1=1, axis2=2)[:, None, None] + 1e-12
        x = np.linalg.solve(gram + ridge * np.eye(free), rhs[..., None])[..., 0]
        out[origin] = (x, np.maximum(sse0 - np.sum(x * rhs, axis=1), 0.0))
    return out


def _ets_path(
    state: tuple[np.ndarray, ...],
    start: np.ndarray,
    lane: int,
    grid: dict[str, np.ndarray],
    horizon: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean path and the variance multipliers 1 + Σ c_j² for h = 1..horizon."""
    level_cols, slope_cols, seas_cols, position = state
    weights = np.r_[1.0, start]  # column 0 (data) plus the fitted free initial states
    level = level_cols[lane] @ weights
    slope = slope_cols[lane] @ weights
    seas = weights @ seas_cols[lane]
    alpha, beta = grid["alpha"][lane], grid["beta"][lane]
    gamma, phi = grid["gamma"][lane], grid["phi"][lane]
    period = len(seas)
    h = np.arange(1, horizon + 1)
    phi_sums = np.cumsum(phi**h)  # phi + phi^2 + ... + phi^h (0 without a trend)
    mean = level + phi_sums * slope + seas[(position + h - 1) % period]
    c = alpha + beta * phi_sums + (gamma * ((h % period) == 0) if period > 1 else 0.0)
    multipliers = 1 + np.concatenate([[0.0], np.cumsum(c**2)[:-1]])
    return mean, multipliers


def _aic(sse: np.ndarray, n: int, k: int) -> np.ndarray:
    """Gaussian AIC of a fit with sum of squared errors ``sse`` and ``k`` parameters.

    AIC rather than AICc: with the 12 initial seasonal states counted as parameters, AICc's
    small-sample term rejects the season on two or three years of monthly data even when it is
    strong (on the bench's 36-month series ETS's backtest error doubles under AICc).
    """
    loglik = -0.5 * n * (np.log(2 * np.pi * np.maximum(sse, 1e-300) / n) + 1)
    return -2 * loglik + 2 * k


def _ets_forms(n: int, m: int) -> list[tuple[str, str]]:
    """Forms the data can support: seasonal ones need two full seasons plus two points."""
    forms = [f for f in ETS_FORMS if f[1] == "N" or (m > 1 and n >= 2 * m + 2)]
    return [f for f in forms if n >= MIN_ETS_POINTS + (f[0] != "N")]


def _parameters(trend: str, season: str, m: int) -> int:
    """Smoothing parameters plus initial states, as ETS counts them for the AIC."""
    k = 2  # alpha, level
    if trend != "N":
        k += 2 + (trend == "Ad")
    if season != "N":
        k += 1 + (m - 1)
    return k


def _ets(
    y: np.ndarray, origins: list[int], horizon: int, m: int
) -> dict[int, tuple[np.ndarray, np.ndarray, str]]:
    """ETS forecasts from each origin (train on y[:o]), form chosen by AIC on that prefix."""
    shortest = min(origins)
    forms = _ets_forms(shortest, m)
    if not forms:
        return {}
    best: dict[int, tuple[float, tuple[np.ndarray, np.ndarray, str]]] = {}
    for trend, season in forms:
        grid, errors, states = _ets_pass(y, trend, season, m, origins)
        k = _parameters(trend, season, m)
        fits = _best_starts(errors, origins)
        for origin in origins:
            starts, sse = fits[origin]
            lane = int(np.argmin(sse))
            if origin <= k:
                continue  # more parameters than data points
            aic = float(_aic(sse[lane], origin, k))
            if origin in best and best[origin][0] <= aic:
                continue
            mean, multipliers = _ets_path(states[origin], starts[lane], lane, grid, horizon)
            dof = max(origin - k, 1)
            sigma = math.sqrt(float(sse[lane]) / dof)
            name = f"ETS(A,{trend},{season})"
            best[origin] = (aic, (mean, sigma * np.sqrt(multipliers), name))
    return {origin: value[1] for origin, value in best.items()}


# ---------------------------------------------------------------------------------------------
# All models, backtest, choice
# ---------------------------------------------------------------------------------------------


def _paths(
    y: np.ndarray, origins: list[int], settings: SeriesSettings, models: tuple[str, ...]
) -> dict[str, dict[int, tuple[np.ndarray, np.ndarray, str]]]:
    """Mean, sd and detail for every model from every origin."""
    h, m = settings.horizon, settings.season
    out: dict[str, dict[int, tuple[np.ndarray, np.ndarray, str]]] = {}
    for model in models:
        if model == "ets":
            out[model] = _ets(y, origins, h, m)
            continue
        paths = {}
        for origin in origins:
            if model == "snaive":
                paths[origin] = _snaive(y, origin, h, m)
            elif model == "ma":
                paths[origin] = _moving_average(y, origin, h, settings.ma_window)
            else:
                paths[origin] = _trend(y, origin, h, settings.interval, m)
        out[model] = paths
    return out


def backtest_origins(n: int, horizon: int, n_origins: int, min_train: int = 4) -> list[int]:
    """Rolling origins, newest last; each leaves at least one period to test."""
    test_h = min(horizon, max(1, n - min_train))
    last = n - test_h
    origins = [last - j for j in range(n_origins) if last - j >= min_train]
    return sorted(origins)


def _errors(y: np.ndarray, origin: int, mean: np.ndarray) -> np.ndarray:
    actual = y[origin : origin + len(mean)]
    return actual - mean[: len(actual)]


def forecast_series(y: np.ndarray | pd.Series, settings: SeriesSettings) -> SeriesForecast:
    """Backtest the models on ``y`` (regular, no gaps), then forecast ``settings.horizon`` ahead."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if settings.horizon < 1:
        raise ValueError("horizon must be at least 1")
    if settings.model != "auto" and settings.model not in MODELS:
        raise ValueError(f"unknown model {settings.model}")
    notes: list[tuple[str, dict]] = []
    origins = backtest_origins(n, settings.horizon, settings.n_origins)
    # every model runs, so the page can compare them, whichever one the user asked for
    paths = _paths(y, [*origins, n], settings, MODELS)
    if settings.season > 1 and n < 2 * settings.season + 2:
        notes.append(
            ("forecast.note.no_seasonal", {"periods": n, "needed": 2 * settings.season + 2})
        )
    rows = []
    for model in MODELS:
        by_origin = paths.get(model, {})
        if n not in by_origin:
            continue
        errors = [_errors(y, o, by_origin[o][0]) for o in origins if o in by_origin and o < n]
        pooled = np.concatenate(errors) if errors else np.array([])
        actual = np.concatenate([y[o : o + settings.horizon] for o in origins]) if errors else []
        rows.append(_scores(model, pooled, np.asarray(actual)))
    backtest = pd.DataFrame(rows, columns=["model", "mae", "rmse", "mape", "errors"])
    if not origins:
        notes.append(("forecast.note.no_backtest", {"periods": n}))
    chosen = _choose(backtest, settings.model)
    z = stats.norm.ppf(0.5 + settings.interval / 2)
    forecasts = {}
    for model, by_origin in paths.items():
        if n not in by_origin:
            continue
        mean, sd, detail = by_origin[n]
        lower, upper = mean - z * sd, mean + z * sd
        forecasts[model] = ModelForecast(
            model,
            _clip(mean, settings),
            _clip(lower, settings),
            _clip(upper, settings),
            detail,
        )
    return SeriesForecast(forecasts, backtest, chosen, notes)


def _scores(model: str, errors: np.ndarray, actual: np.ndarray) -> dict:
    if not len(errors):
        return {"model": model, "mae": np.nan, "rmse": np.nan, "mape": np.nan, "errors": 0}
    nonzero = actual[: len(errors)] != 0
    mape = (
        float(np.mean(np.abs(errors[nonzero] / actual[: len(errors)][nonzero])) * 100)
        if nonzero.any()
        else np.nan
    )
    return {
        "model": model,
        "mae": float(np.mean(np.abs(errors))),
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mape": mape,
        "errors": len(errors),
    }


def _choose(backtest: pd.DataFrame, asked: str) -> str:
    """The asked model when it could run, else the lowest backtest MAE (ETS, then the moving
    average, when nothing could be backtested)."""
    available = backtest["model"].tolist()
    if asked in available:
        return asked
    scored = backtest.dropna(subset=["mae"])
    if scored.empty:
        return "ets" if "ets" in available else "ma"
    # ties go to the simpler model (order of MODELS)
    return str(scored.sort_values("mae", kind="stable").iloc[0]["model"])


def _clip(values: np.ndarray, settings: SeriesSettings) -> np.ndarray:
    if settings.lower is None and settings.upper is None:
        return values
    return np.clip(values, settings.lower, settings.upper)
