import { Page } from '../components/Page';

// Placeholder: the page is built by its owner (see the dashboard issue).
export default function Credits() {
  return <Page title="Credits">{null}</Page>;
}
