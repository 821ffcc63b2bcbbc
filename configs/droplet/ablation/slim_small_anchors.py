_base_ = './slim_stock.py'
model = dict(rpn_head=_base_.small_anchors)
