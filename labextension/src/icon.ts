import { LabIcon } from '@jupyterlab/ui-components';

// A bench-style bar chart: three bars on a base line. `jp-icon3` lets the theme recolour it.
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="3" y="12" width="4" height="8" rx="1"/>
    <rect x="10" y="6" width="4" height="14" rx="1"/>
    <rect x="17" y="9" width="4" height="11" rx="1"/>
    <rect x="2" y="21" width="20" height="1.5" rx="0.75"/>
  </g>
</svg>`;

export const dlbenchIcon = new LabIcon({ name: 'jupyter-dlbench:icon', svgstr });
