/** Draws a 2-D classifier's decision regions and a set of points as a small standalone SVG. */
import type { Example } from './data.js';
import { type Mlp, predict } from './model.js';

const REGION_COLORS = ['#dbe7f5', '#fde3cc'];
const POINT_COLORS = ['#1f5f9e', '#d9620b'];
const MISTAKE_COLOR = '#c62828';

export interface DecisionBoundaryOptions {
  width?: number;
  height?: number;
  /** Grid cells across; more is smoother and bigger. */
  resolution?: number;
  title?: string;
}

export function renderDecisionBoundarySvg(
  model: Mlp,
  examples: readonly Example[],
  {
    width = 480,
    height = 320,
    resolution = 120,
    title = 'Decision regions',
  }: DecisionBoundaryOptions = {},
): string {
  const bounds = boundsOf(examples);
  const toPixelX = (x: number) => ((x - bounds.minX) / (bounds.maxX - bounds.minX)) * width;
  // SVG's y axis points down; the data's points up.
  const toPixelY = (y: number) => ((bounds.maxY - y) / (bounds.maxY - bounds.minY)) * height;
  const columns = resolution;
  const rows = Math.max(1, Math.round((resolution * height) / width));
  const cellWidth = width / columns;
  const cellHeight = height / rows;

  const regions: string[] = [];
  for (let row = 0; row < rows; row++) {
    const y = bounds.maxY - ((row + 0.5) / rows) * (bounds.maxY - bounds.minY);
    // One rectangle per run of same-class cells keeps the file small at a fine resolution.
    let runStart = 0;
    let runClass = -1;
    for (let column = 0; column <= columns; column++) {
      const x = bounds.minX + ((column + 0.5) / columns) * (bounds.maxX - bounds.minX);
      const cellClass = column < columns ? predict(model, [x, y]) : -1;
      if (cellClass === runClass) continue;
      if (runClass >= 0) {
        regions.push(
          `<rect x="${fixed(runStart * cellWidth)}" y="${fixed(row * cellHeight)}" width="${fixed((column - runStart) * cellWidth)}" height="${fixed(cellHeight)}" fill="${REGION_COLORS[runClass % REGION_COLORS.length]}"/>`,
        );
      }
      runStart = column;
      runClass = cellClass;
    }
  }
  const points: string[] = [];
  for (const example of examples) {
    const [x = 0, y = 0] = example.features;
    const mistake = predict(model, example.features) !== example.label;
    const stroke = mistake ? ` stroke="${MISTAKE_COLOR}" stroke-width="2"` : '';
    points.push(
      `<circle cx="${fixed(toPixelX(x))}" cy="${fixed(toPixelY(y))}" r="3.5" fill="${POINT_COLORS[example.label % POINT_COLORS.length]}"${stroke}/>`,
    );
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${escapeXml(title)}</title>`,
    // crispEdges stops hairline seams between adjacent rectangles; the points stay antialiased.
    '<g shape-rendering="crispEdges">',
    ...regions,
    '</g>',
    ...points,
    '</svg>',
    '',
  ].join('\n');
}

function boundsOf(examples: readonly Example[]) {
  const xs = examples.map((example) => example.features[0] ?? 0);
  const ys = examples.map((example) => example.features[1] ?? 0);
  const margin = 0.25;
  return {
    minX: Math.min(...xs) - margin,
    maxX: Math.max(...xs) + margin,
    minY: Math.min(...ys) - margin,
    maxY: Math.max(...ys) + margin,
  };
}

function fixed(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (character) => `&#${character.charCodeAt(0)};`);
}
